"""From a finished run's history to metrics, findings and a verdict in its journal."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path

from gracectl.checks.metrics import history_metrics
from gracectl.checks.verdict import SAFETY_INVARIANTS, verdict
from gracectl.checks.verdict import evaluate as judge_all
from gracectl.history import FaultWindow, FinalRead, LagSample, Operation, read_history
from gracectl.journal import FindingRecord, Journal
from gracectl.scenario import Scenario


def history_files(history: Path) -> list[Path]:
    """A history is one JSON-lines file or a directory of them (one per load process)."""
    if history.is_dir():
        return sorted(history.glob("*.jsonl"))
    return [history] if history.exists() else []


def operations(history: Path) -> Iterable[Operation]:
    return itertools.chain.from_iterable(read_history(p) for p in history_files(history))


def evaluate(
    journal: Journal,
    scenario: Scenario,
    history: Path,
    windows: list[FaultWindow],
    final: FinalRead,
    lag_samples: list[LagSample],
) -> None:
    """Fill the journal's metrics, findings and verdict (streams the history, twice or so)."""
    metrics = history_metrics(lambda: operations(history), windows, final, lag_samples)
    findings = judge_all(metrics, scenario.invariants or SAFETY_INVARIANTS)
    journal.fault_windows = [w.model_dump(mode="json") for w in windows]
    journal.metrics = dict(metrics.as_dict())
    journal.findings = [
        FindingRecord(
            name=f.name,
            value=f.value,
            threshold=f.threshold.describe(),
            status=f.status,
            reason=f.reason,
        )
        for f in findings
    ]
    journal.lost_acked_ids = sorted(metrics.write_set.lost_acked_ids)[:1000]
    journal.verdict = verdict(findings)
    failing = [f.reason for f in findings if f.status == journal.verdict and f.reason]
    if journal.verdict != "pass" and failing and not journal.reason:
        journal.reason = "; ".join(failing[:3])
