"""The JSON journal every run writes; reports are rendered from it alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from gracectl.checks.timeseries import OperationSeries
from gracectl.errors import ConfigError
from gracectl.journal_file import JournalFile
from gracectl.machine import MachineInfo

JOURNAL_VERSION = 1
RunStatus = Literal["completed", "failed", "aborted", "interrupted"]
Verdict = Literal["pass", "fail", "inconclusive"]


class ActionRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str  # "postgres.kill_leader", "rollback", "steady_state.before"
    target: str | None = None
    started: float
    ended: float
    ok: bool = True
    note: str = ""


class FindingRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    value: float | int | None
    threshold: str
    status: Verdict
    reason: str = ""


class SteadyState(BaseModel):
    model_config = ConfigDict(frozen=True)

    ok: bool
    probes: dict[str, bool]
    detail: str = ""


class Journal(JournalFile, BaseModel):
    kind: Literal["chaos"] = "chaos"  # journals written before kinds existed have none
    version: int = JOURNAL_VERSION
    scenario: dict[str, Any]
    status: RunStatus = "completed"
    start: float
    end: float | None = None
    profile: str
    replication_mode: str
    bus: str = ""
    steady_states: dict[str, SteadyState] = {}
    actions: list[ActionRecord] = []
    rollbacks: list[ActionRecord] = []
    fault_windows: list[dict[str, Any]] = []
    metrics: dict[str, float | int | str | bool | None] = {}
    findings: list[FindingRecord] = []
    # The acknowledged ids the final read did not find (first 1000): the evidence of a loss.
    lost_acked_ids: list[int] = []
    # Event runs: the acknowledged events the final read did not find, "producer:seq"
    # (first 1000 in producer, seq order).
    lost_acked_events_sample: list[str] = []
    verdict: Verdict = "inconclusive"
    reason: str = ""
    history_path: str = ""
    locust_stats_path: str = ""
    machine: MachineInfo | None = None
    # Per-second throughput and latency, so reports can plot the run without its history.
    timeseries: list[OperationSeries] = []

    @property
    def duration_s(self) -> float | None:
        return None if self.end is None else self.end - self.start

    def exit_code(self) -> int:
        """0 every invariant passed, 1 one failed (or the rollback did), 3 aborted,
        interrupted or inconclusive."""
        if self.status in ("aborted", "interrupted"):
            return 3
        if self.status == "failed" or self.verdict == "fail":
            return 1
        return 0 if self.verdict == "pass" else 3

    def result(self) -> dict[str, Any]:
        """The object `--json` prints."""
        return {
            "scenario": self.scenario.get("name"),
            "status": self.status,
            "verdict": self.verdict,
            "reason": self.reason,
            "metrics": {
                **self.metrics,
                "replication_mode": self.replication_mode,
                **({"bus": self.bus} if self.scenario.get("events") else {}),
            },
            "findings": [f.model_dump() for f in self.findings],
            "lost_acked_ids": self.lost_acked_ids,
            "lost_acked_events_sample": self.lost_acked_events_sample,
            "history_path": self.history_path,
        }


def read_journal(path: Path) -> Journal:
    try:
        return Journal.model_validate(json.loads(path.read_text()))
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read journal: {exc.strerror}",
            hint="journals are under GRACECTL_HOME/runs/",
        ) from exc
    except (ValueError, ValidationError) as exc:
        raise ConfigError(
            f"{path}: not a gracectl journal ({exc.__class__.__name__})",
            hint="pass the journal.json a chaos run wrote",
        ) from exc
