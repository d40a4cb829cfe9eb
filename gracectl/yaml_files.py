"""Reading a YAML file gracectl is given (a scenario, a claims file): an unreadable file or
malformed YAML is a ConfigError naming the file (and the line), never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gracectl.errors import ConfigError


def load_yaml_file(path: Path, what: str, unreadable_hint: str) -> Any:
    """The parsed contents of `path`, `what` (e.g. "scenario") naming it in the error when it
    cannot be read (with `unreadable_hint`) or is not valid YAML."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read {what}: {exc.strerror}", hint=unreadable_hint
        ) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"{path}: malformed YAML{where}: {getattr(exc, 'problem', exc)}",
            hint="fix the YAML syntax",
        ) from exc
