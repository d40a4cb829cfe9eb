"""Run every event-bus check over one event history and flatten the results into named
numbers (`EVENT_METRIC_NAMES`), the counterpart of `metrics` for database runs.

Consumption, replay and projection metrics are measured only when the scenario did those
things (a consumer group, a replay); otherwise they are None, and the verdict says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pydantic import BaseModel, ConfigDict

from gracectl.checks.events import (
    OrderViolation,
    acked_event_ids,
    attempted_event_ids,
    count_produces_in_fault,
    duplicate_deliveries,
    duplicate_events,
    extra_copies,
    failed_events_present,
    indeterminate_event_ids,
    out_of_order_events,
    produce_unavailability,
    recovery_s,
    stored_event_ids,
    unconsumed_events,
)
from gracectl.checks.generator import GeneratorHealth, generator_health
from gracectl.checks.metrics import MetricValue, reopenable
from gracectl.checks.replay import ProjectionComparison, ReplayReport
from gracectl.checks.windows import FaultUnion, fault_union
from gracectl.history import EventId, EventOp, EventRead, FaultWindow

EventHistorySource = Iterable[EventOp] | Callable[[], Iterable[EventOp]]
EventMetricValue = float | int | bool | str | None

# Hashes: reported, never judged (judge `projection_matches` instead).
EVENT_LABEL_NAMES: tuple[str, ...] = ("projection_hash_live", "projection_hash_replayed")
EVENT_METRIC_NAMES: tuple[str, ...] = (
    "attempted_events",
    "acked_events",
    "lost_acked_events",
    "duplicate_events",
    "out_of_order_events",
    "unexpected_events",
    "indeterminate_events",
    "recovered_indeterminate_events",
    "failed_events_present",
    "recovery_s",
    "produce_unavailable_longest_s",
    "produces_in_fault",
    "late_fraction",
    "consumed_events",
    "unconsumed_events",
    "duplicate_deliveries",
    "replay_matches",
    "replay_expected_events",
    "replayed_events",
    "replay_missing_events",
    "replay_extra_events",
    "replay_order_violations",
    "projection_matches",
    *EVENT_LABEL_NAMES,
)


class ConsumptionReport(BaseModel):
    """What a consumer group received of the events stored in the log."""

    model_config = ConfigDict(frozen=True)

    expected_events: int  # stored events the group had to consume
    consumed_events: int  # distinct events consumed `ok`
    unconsumed: frozenset[EventId]
    duplicate_deliveries: dict[EventId, int]  # id -> times delivered (> 1 only)


class EventMetrics(BaseModel):
    """The result of every event check on one run, before any threshold is applied."""

    model_config = ConfigDict(frozen=True)

    faults: FaultUnion
    attempted: frozenset[EventId]
    acked: frozenset[EventId]
    stored: frozenset[EventId]
    indeterminate: frozenset[EventId]
    failed_present: frozenset[EventId]
    duplicates: dict[EventId, int]  # id -> copies in the final read (> 1 only)
    order_violations: tuple[OrderViolation, ...]
    recovery_s: float | None
    #: The longest time without an acknowledged produce, touching a fault window.
    produce_unavailable_longest_s: float | None
    produces_in_fault: int
    generator: GeneratorHealth
    consumption: ConsumptionReport | None = None
    replay: ReplayReport | None = None
    projections: ProjectionComparison | None = None

    @property
    def lost_acked(self) -> frozenset[EventId]:
        return self.acked - self.stored

    @property
    def unexpected(self) -> frozenset[EventId]:
        return self.stored - self.attempted

    def numbers(self) -> dict[str, MetricValue]:
        """Judgeable metric name -> value (every name but the hashes); None: unmeasured.

        Counts of duplicates are copies beyond the first (three copies count two).
        """
        consumption, replay, projections = self.consumption, self.replay, self.projections
        return {
            "attempted_events": len(self.attempted),
            "acked_events": len(self.acked),
            "lost_acked_events": len(self.lost_acked),
            "duplicate_events": extra_copies(self.duplicates),
            "out_of_order_events": len(self.order_violations),
            "unexpected_events": len(self.unexpected),
            "indeterminate_events": len(self.indeterminate),
            "recovered_indeterminate_events": len(self.indeterminate & self.stored),
            "failed_events_present": len(self.failed_present),
            "recovery_s": self.recovery_s,
            "produce_unavailable_longest_s": self.produce_unavailable_longest_s,
            "produces_in_fault": self.produces_in_fault,
            "late_fraction": self.generator.late_fraction,
            "consumed_events": None if consumption is None else consumption.consumed_events,
            "unconsumed_events": None if consumption is None else len(consumption.unconsumed),
            "duplicate_deliveries": (
                None if consumption is None else extra_copies(consumption.duplicate_deliveries)
            ),
            "replay_matches": None if replay is None else replay.matches,
            "replay_expected_events": None if replay is None else replay.expected_events,
            "replayed_events": None if replay is None else replay.replayed_events,
            "replay_missing_events": None if replay is None else len(replay.missing),
            "replay_extra_events": None if replay is None else len(replay.extra),
            "replay_order_violations": None if replay is None else len(replay.order_violations),
            "projection_matches": None if projections is None else projections.matches,
        }

    def as_dict(self) -> dict[str, EventMetricValue]:
        """Flat metric name -> value, keys exactly `EVENT_METRIC_NAMES` (hashes are str)."""
        projections = self.projections
        values: dict[str, EventMetricValue] = dict(self.numbers())
        values["projection_hash_live"] = None if projections is None else projections.live_hash
        values["projection_hash_replayed"] = (
            None if projections is None else projections.replayed_hash
        )
        return values


def consumption_report(final_read: EventRead, consumes: Iterable[EventOp]) -> ConsumptionReport:
    """At-least-once over the stored events: each consumed at least once, copies counted."""
    consumed = [op for op in consumes if op.op == "consume" and op.outcome == "ok"]
    stored = stored_event_ids(final_read)
    return ConsumptionReport(
        expected_events=len(stored),
        consumed_events=len({op.event_id for op in consumed}),
        unconsumed=unconsumed_events(stored, consumed),
        duplicate_deliveries=duplicate_deliveries(consumed),
    )


def _producer_health(
    produces: Callable[[], Iterable[EventOp]], union: FaultUnion
) -> GeneratorHealth:
    """Rates over the whole run, the late share outside the fault windows (as `metrics`
    does for writes: lateness during a fault is the fault's stall, not the generator's)."""
    whole = generator_health(op for op in produces() if op.op == "produce")
    outside = generator_health(
        op for op in produces() if op.op == "produce" and union.phase_of(op) != "during"
    )
    if not outside.operations:
        return whole
    return whole.model_copy(
        update={"operations": outside.operations, "late_operations": outside.late_operations}
    )


def event_metrics(
    history: EventHistorySource,
    final_read: EventRead,
    faults: Iterable[FaultWindow],
    *,
    consumes: EventHistorySource | None = None,
    replay: ReplayReport | None = None,
    projections: ProjectionComparison | None = None,
) -> EventMetrics:
    """Run every event check. `history` supplies the produces (consume ops in it are
    ignored); pass `consumes` (may be the same source) when a consumer group ran, and the
    `replay_matches` / `compare_projections` results when the scenario replayed."""
    produces = reopenable(history)
    union = fault_union(faults)
    return EventMetrics(
        faults=union,
        attempted=attempted_event_ids(produces()),
        acked=acked_event_ids(produces()),
        stored=stored_event_ids(final_read),
        indeterminate=indeterminate_event_ids(produces()),
        failed_present=failed_events_present(produces(), final_read),
        duplicates=duplicate_events(final_read),
        order_violations=out_of_order_events(final_read),
        recovery_s=recovery_s(produces(), union),
        produce_unavailable_longest_s=produce_unavailability(produces(), union).longest_gap_s,
        produces_in_fault=count_produces_in_fault(produces(), union),
        generator=_producer_health(produces, union),
        consumption=(
            None if consumes is None else consumption_report(final_read, reopenable(consumes)())
        ),
        replay=replay,
        projections=projections,
    )
