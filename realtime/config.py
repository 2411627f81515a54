"""Presets, config files and --stages resolved into one validated pipeline description.

Precedence, lowest first: the preset in ``presets.toml``, then ``--config FILE.toml``, then
``--stages``. Every name and value is validated here so a typo fails before any frame is read.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from realtime.errors import ConfigError
from realtime.stages import STAGES, Stage, make_stage

DEFAULT_PRESET = "lowlight"
_PRESET_KEYS = {"description", "stages", "refiner_stages", "refiner", *STAGES}
_CONFIG_KEYS = {"preset", *_PRESET_KEYS}


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    preset: str
    stages: tuple[str, ...]
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Stages run in front of the learned refiner, when they differ from ``stages``. The refiner is
    #: trained on exactly these (without CLAHE, whose tile-wise remapping it would otherwise have
    #: to undo); explicit ``--stages`` or a config file's ``stages`` override both lists.
    refiner_stages: tuple[str, ...] | None = None
    #: "off" when the preset must not run the refiner under ``--refiner auto`` (the "off" preset).
    refiner: str = "auto"

    def stage_names(self, refined: bool = False) -> tuple[str, ...]:
        return self.refiner_stages if refined and self.refiner_stages is not None else self.stages

    def build_stages(self, refined: bool = False) -> list[Stage]:
        return [make_stage(name, self.params.get(name)) for name in self.stage_names(refined)]


def load_presets() -> dict[str, dict[str, Any]]:
    text = resources.files("realtime").joinpath("presets.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with Path(path).open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError as e:
        raise ConfigError(f"config file not found: {path}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"invalid TOML in {path}: {e}") from e
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from e


def _check_stage_list(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [s.strip() for s in value.split(",") if s.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(s, str) for s in value):
        raise ConfigError(f"{where}: stages must be a list of stage names")
    for name in value:
        if name not in STAGES:
            raise ConfigError(f"{where}: unknown stage {name!r}; choose from {', '.join(STAGES)}")
    if len(set(value)) != len(value):
        raise ConfigError(f"{where}: a stage is listed twice in {', '.join(value)}")
    return tuple(value)


def _merge_params(base: dict[str, dict[str, Any]], table: Mapping[str, Any], where: str) -> None:
    for name in STAGES:
        if name in table:
            values = table[name]
            if not isinstance(values, Mapping):
                raise ConfigError(f"{where}: [{name}] must be a table of parameters")
            base.setdefault(name, {}).update(values)


def resolve_config(
    preset: str | None = None,
    config_file: str | None = None,
    stages: str | Sequence[str] | None = None,
) -> PipelineConfig:
    """Combine preset, config file and --stages; validate by building every stage once."""
    presets = load_presets()
    file_table = _read_toml(config_file) if config_file else {}
    unknown = set(file_table) - _CONFIG_KEYS
    if unknown:
        raise ConfigError(
            f"{config_file}: unknown key {sorted(unknown)[0]!r}; allowed: {', '.join(sorted(_CONFIG_KEYS))}"
        )
    name = preset or file_table.get("preset") or DEFAULT_PRESET
    if name not in presets:
        raise ConfigError(f"unknown preset {name!r}; choose from {', '.join(presets)}")
    table = presets[name]
    params: dict[str, dict[str, Any]] = {}
    _merge_params(params, table, f"preset {name}")
    chosen = _check_stage_list(table.get("stages", []), f"preset {name}")
    refined = (_check_stage_list(table["refiner_stages"], f"preset {name}")
               if "refiner_stages" in table else None)
    refiner = table.get("refiner", "auto")
    if config_file:
        _merge_params(params, file_table, config_file)
        if "stages" in file_table:
            chosen = _check_stage_list(file_table["stages"], config_file)
            refined = None
        if "refiner_stages" in file_table:
            refined = _check_stage_list(file_table["refiner_stages"], config_file)
        refiner = file_table.get("refiner", refiner)
    if stages is not None:
        chosen = _check_stage_list(stages, "--stages")
        refined = None
    if refiner not in ("auto", "off"):
        raise ConfigError(f"preset {name}: refiner must be \"auto\" or \"off\", not {refiner!r}")
    config = PipelineConfig(preset=name, stages=chosen, params=params, refiner_stages=refined, refiner=refiner)
    for stage_name, values in params.items():  # validate even the stages not chosen
        make_stage(stage_name, values)
    return config
