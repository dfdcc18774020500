"""What-if settings: `--set calls.per_day=300` changes one config key for a plan, checked by the config's own
loader (unknown keys and nonsense refused with the key path, partial settings merged onto the defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from shared.config import ConfigError, DispatchConfig, parse_config


def parse_set(text: str) -> tuple[list[str], Any]:
    """KEY=VALUE: a dotted key path and a YAML value (`300`, `80000`, `{max: 0, days: 7}`, `null`)."""
    key, sep, value = text.partition("=")
    path = [part.strip() for part in key.split(".")]
    if not sep or not all(path):
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE with a dotted key, e.g. calls.per_day=300")
    try:
        return path, yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {text!r}: the value is not valid YAML: {exc}") from exc


def config_with(path: Path | None, sets: list[str]) -> DispatchConfig:
    """The config file (or the defaults) with every `--set` applied, validated as a config file is."""
    if path is not None and not path.is_file():
        raise ConfigError(f"{path}: file not found")
    text = path.read_text(encoding="utf-8-sig") if path is not None else ""
    data: Any = yaml.safe_load(text) if text.strip() else {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    for text_set in sets:
        keys, value = parse_set(text_set)
        node = data
        for key in keys[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[keys[-1]] = value
    name = f"{path or 'the default config'}" + (f" with --set {', '.join(sets)}" if sets else "")
    return parse_config(yaml.safe_dump(data), name)
