"""The state file of a stack (`state.json` under GRACECTL_HOME): the settings it was
brought up with and the processes gracectl saw, for `status`, `down` and fault healing."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gracectl.config import Settings
from gracectl.errors import EnvironmentProblem
from gracectl.layout import Layout
from gracectl.processes import ProcessRecord


def read_state(layout: Layout) -> dict[str, Any] | None:
    try:
        state = json.loads(layout.state_file.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise EnvironmentProblem(
            f"{layout.state_file}: unreadable state file ({exc})",
            hint="`gracectl down --purge` starts from scratch",
        ) from exc
    return state if isinstance(state, dict) else None


def write_state(layout: Layout, settings: Settings, records: list[ProcessRecord]) -> None:
    state = {
        "settings": settings.model_dump(mode="json"),
        "processes": [r.model_dump(mode="json") for r in records],
        "updated_at": time.time(),
    }
    tmp = layout.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(layout.state_file)


def settings_of_running_stack(settings: Settings) -> Settings:
    """The settings the stack under `settings.home` was brought up with (ports, profile)."""
    state = read_state(Layout(settings.home_path))
    if state is None:
        return settings
    try:
        return Settings.model_validate(state["settings"])
    except (KeyError, ValidationError) as exc:
        raise EnvironmentProblem(
            f"{Layout(settings.home_path).state_file}: invalid state",
            hint="`gracectl down --purge` starts from scratch",
        ) from exc


def recorded_profile(home: Path) -> str | None:
    """The profile of the stack whose state lives in `home`, if any."""
    state = read_state(Layout(home)) or {}
    profile = state.get("settings", {}).get("profile")
    return profile if isinstance(profile, str) else None


def recorded_processes(layout: Layout) -> list[ProcessRecord]:
    state = read_state(layout) or {}
    records = []
    for raw in state.get("processes", []):
        try:
            records.append(ProcessRecord.model_validate(raw))
        except ValidationError:
            continue
    return records
