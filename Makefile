# Two commands matter: `make demo` and `make test`. Both build .venv from scratch when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TSTAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

demo: $(STAMP)
	mkdir -p demo_out
	$(BIN)/realtime enhance realtime/data/demo_lowlight.mp4 -o demo_out/enhanced.mp4 \
		--compare demo_out/before_after.png --overwrite

test: $(TSTAMP)
	$(BIN)/ruff check realtime realtime_train tests tools
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/realtime bench realtime/data/demo_lowlight.mp4

clean:
	rm -rf $(VENV) demo_out bench_out
