"""From a finished run's history to metrics, findings and a verdict in its journal."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from pathlib import Path

from gracectl.bus import open_bus
from gracectl.checks.event_metrics import event_metrics
from gracectl.checks.events import event_id_label
from gracectl.checks.metrics import history_metrics
from gracectl.checks.replay import compare_projections, projection, replay_matches
from gracectl.checks.timeseries import per_second_series
from gracectl.checks.verdict import SAFETY_INVARIANTS, Finding, verdict
from gracectl.checks.verdict import evaluate as judge_all
from gracectl.event_workload import stored_event_read
from gracectl.history import (
    EventOp,
    EventRead,
    FaultWindow,
    FinalRead,
    LagSample,
    Operation,
    read_event_history,
    read_history,
)
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
    journal.metrics = dict(metrics.as_dict())
    journal.lost_acked_ids = sorted(metrics.write_set.lost_acked_ids)[:1000]
    journal.timeseries = per_second_series(operations(history))
    _record_verdict(journal, windows, findings)


def _record_verdict(journal: Journal, windows: list[FaultWindow], findings: list[Finding]) -> None:
    """Fault windows, findings and the verdict into the journal; the reason names the first
    findings that decided it."""
    journal.fault_windows = [w.model_dump(mode="json") for w in windows]
    journal.findings = [
        FindingRecord(name=f.name, value=f.value, threshold=f.threshold.describe(),
                      status=f.status, reason=f.reason)
        for f in findings
    ]  # fmt: skip
    journal.verdict = verdict(findings)
    deciding = [f.reason for f in findings if f.status == journal.verdict and f.reason]
    if journal.verdict != "pass" and deciding and not journal.reason:
        journal.reason = "; ".join(deciding[:3])


def event_ops(history: Path) -> Iterable[EventOp]:
    return itertools.chain.from_iterable(read_event_history(p) for p in history_files(history))


def evaluate_events(
    journal: Journal,
    scenario: Scenario,
    history: Path,
    windows: list[FaultWindow],
    final: EventRead,
    env: Mapping[str, str],
    topic: str,
    replay_from_ms: int | None,
) -> None:
    """Event checks into the journal: lost / duplicate / out-of-order events, recovery,
    consumption by the group, and (when the scenario replays) replay equality and the
    projection rebuilt from a full replay against the one the consumers kept live."""
    load = scenario.events
    assert load is not None
    consumes = None
    if load.consumers:
        def consumes() -> Iterable[EventOp]:
            return (op for op in event_ops(history) if op.op == "consume")
    replay = projections = None
    if replay_from_ms is not None:
        with open_bus(env, topic=topic) as bus:
            replayed = stored_event_read(bus.replay(replay_from_ms))
            full = stored_event_read(bus.replay(0))
        produces = (op for op in event_ops(history) if op.op == "produce")
        replay = replay_matches(produces, replayed, replay_from_ms)
        journal.metrics["replay_from_ms"] = replay_from_ms
        if consumes is not None:
            live = projection(consumes(), distinct=True)
            projections = compare_projections(live, projection(full.events(), distinct=True))
    metrics = event_metrics(
        lambda: (op for op in event_ops(history) if op.op == "produce"),
        final, windows, consumes=consumes, replay=replay, projections=projections,
    )
    findings = judge_all(metrics, scenario.invariants or None)
    journal.metrics.update(metrics.as_dict())
    journal.timeseries = per_second_series(
        op for op in event_ops(history) if op.op == "produce"
    )
    lost = sorted(metrics.lost_acked)[:1000]
    journal.lost_acked_events_sample = [event_id_label(event_id) for event_id in lost]
    _record_verdict(journal, windows, findings)
