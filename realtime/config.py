"""Presets, config files and stage lists resolved into one validated pipeline description.

Precedence, lowest first: the preset in ``presets.toml``, then the config (a TOML file, or a
mapping of the same shape from the Python API), then an explicit stage list (``--stages``, or
``stages=`` in the API). Every name and value is validated here, so a typo fails before any frame
is read. What the user's config sets is remembered (:attr:`PipelineConfig.user_params`), so a
parameter for a stage that will not run is an error rather than a silent no-op (see
:func:`realtime.assembly.build_pipeline`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

from realtime.errors import ConfigError
from realtime.stages import STAGES, Stage, StageDefinition, define, registered_stages

DEFAULT_PRESET = "lowlight"
_TOP_KEYS = {"description", "stages", "refiner_stages", "refiner"}
_CONFIG_KEYS = {"preset", *_TOP_KEYS}

#: A config: the path of a TOML file, or a mapping shaped like one (``{"clahe": {"clip_limit": 3}}``).
ConfigLike = str | PathLike[str] | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    preset: str
    stages: tuple[StageDefinition, ...]
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Stages run in front of the learned refiner, when they differ from ``stages``. The refiner is
    #: trained on exactly these (without CLAHE, whose tile-wise remapping it would otherwise have
    #: to undo); an explicit stage list, or a config file's ``stages``, overrides both lists.
    refiner_stages: tuple[StageDefinition, ...] | None = None
    #: "off" when the preset must not run the refiner under ``--refiner auto`` (the "off" preset).
    refiner: str = "auto"
    #: stage name -> where the user set its parameters (the config file's name), for the check
    #: that every parameter set acts on a stage that runs
    user_params: Mapping[str, str] = field(default_factory=dict)

    def definitions(self, refined: bool = False) -> tuple[StageDefinition, ...]:
        return self.refiner_stages if refined and self.refiner_stages is not None else self.stages

    def stage_names(self, refined: bool = False) -> tuple[str, ...]:
        return tuple(d.name for d in self.definitions(refined))

    def build_stages(self, refined: bool = False) -> list[Stage]:
        return [d.build(self.params.get(d.name)) for d in self.definitions(refined)]


def load_presets() -> dict[str, dict[str, Any]]:
    text = resources.files("realtime").joinpath("presets.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def preset_names() -> tuple[str, ...]:
    return tuple(load_presets())


def _read_toml(path: str | PathLike[str]) -> dict[str, Any]:
    try:
        with Path(path).open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError as e:
        raise ConfigError(f"config file not found: {path}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"invalid TOML in {path}: {e}") from e
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from e


def _stage_list(value: Any, where: str) -> tuple[StageDefinition, ...]:
    if isinstance(value, str):
        value = [s.strip() for s in value.split(",") if s.strip()]
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where}: stages must be a list of stage names")
    try:
        found = tuple(define(item) for item in value)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from e
    names = [d.name for d in found]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: a stage is listed twice in {', '.join(names)}")
    return found


def _stage_tables(table: Mapping[str, Any], where: str, allowed: set[str]) -> dict[str, Mapping[str, Any]]:
    """The ``[stage]`` tables of a preset or config, each checked to name a stage and be a table."""
    tables: dict[str, Mapping[str, Any]] = {}
    for key, values in table.items():
        if key in _CONFIG_KEYS:
            continue
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r}; allowed: {', '.join(sorted(_CONFIG_KEYS))} "
                              f"and a table per stage ({', '.join(sorted(allowed))})")
        if not isinstance(values, Mapping):
            raise ConfigError(f"{where}: [{key}] must be a table of parameters")
        tables[key] = values
    return tables


def resolve_config(
    preset: str | None = None,
    config: ConfigLike | None = None,
    stages: str | Sequence[Any] | None = None,
) -> PipelineConfig:
    """Combine preset, config and stage list; validate every parameter table once."""
    presets = load_presets()
    if isinstance(config, Mapping):
        file_table, where = dict(config), "config"
    elif config is not None:
        file_table, where = _read_toml(config), str(config)
    else:
        file_table, where = {}, ""
    name = preset or file_table.get("preset") or DEFAULT_PRESET
    if name not in presets:
        raise ConfigError(f"unknown preset {name!r}; choose from {', '.join(presets)}")
    table = presets[name]
    chosen = _stage_list(table.get("stages", []), f"preset {name}")
    refined = _stage_list(table["refiner_stages"], f"preset {name}") if "refiner_stages" in table else None
    refiner = table.get("refiner", "auto")
    preset_tables = _stage_tables(table, f"preset {name}", set(STAGES))
    params: dict[str, dict[str, Any]] = {k: dict(v) for k, v in preset_tables.items()}
    user_params: dict[str, str] = {}
    if "stages" in file_table:
        chosen, refined = _stage_list(file_table["stages"], where), None
    if "refiner_stages" in file_table:
        refined = _stage_list(file_table["refiner_stages"], where)
    if stages is not None:
        chosen, refined = _stage_list(stages, "stages"), None
    refiner = file_table.get("refiner", refiner)
    if refiner not in ("auto", "off"):
        raise ConfigError(f"{where or 'preset ' + name}: refiner must be \"auto\" or \"off\", not {refiner!r}")
    named = {d.name: d for d in (*chosen, *(refined or ()))}
    allowed = {*registered_stages(), *named}
    user_tables = _stage_tables(file_table, where, allowed)
    for stage, values in user_tables.items():
        params.setdefault(stage, {}).update(values)
        user_params[stage] = where
    for stage, values in params.items():  # validate even the stages not chosen
        (named.get(stage) or define(stage)).check(values)
    for stage, values in user_tables.items():  # what the user set must act
        inert = (named.get(stage) or define(stage)).inert(params[stage])
        for key in values:
            if key in inert:
                raise ConfigError(f"{where}: {stage}.{key} has no effect here: {inert[key]}")
    return PipelineConfig(preset=name, stages=chosen, params=params, refiner_stages=refined, refiner=refiner,
                          user_params=user_params)
