"""When an event-bus metric cannot be judged: unmeasured (no consumer group, no replay, no
produce after the fault), nothing to judge (no acked event, an empty replay), or timing that
cannot be trusted (a late generator, too few produces during the fault).
"""

from __future__ import annotations

from gracectl.checks.event_metrics import EventMetrics
from gracectl.checks.metrics import MetricValue
from gracectl.checks.policy import CheckPolicy, late_reason

UNMEASURED_EVENT_REASONS: dict[str, str] = {
    "recovery_s": "no acknowledged produce after the fault",
    "produce_unavailable_longest_s": "no produce at all",
    "late_fraction": "no produce in the history",
    **dict.fromkeys(
        ("consumed_events", "unconsumed_events", "duplicate_deliveries"),
        "no consumer group in this run",
    ),
    **dict.fromkeys(
        (
            "replay_matches",
            "replay_expected_events",
            "replayed_events",
            "replay_missing_events",
            "replay_extra_events",
            "replay_order_violations",
        ),
        "no replay in this run",
    ),
    "projection_matches": "no projection compared in this run",
}
LOST_EVENT_METRICS = frozenset({"lost_acked_events"})
REPLAY_METRICS = frozenset(
    {"replay_matches", "replay_missing_events", "replay_extra_events", "replay_order_violations"}
)


def event_inconclusive_reason(
    name: str, values: dict[str, MetricValue], metrics: EventMetrics, policy: CheckPolicy
) -> str | None:
    """Why the event metric `name` cannot be judged, or None when it can."""
    timing = name in ("recovery_s", "produce_unavailable_longest_s")
    if timing and not metrics.faults.intervals:
        return "no fault window in the history"
    if values[name] is None:
        return UNMEASURED_EVENT_REASONS.get(name, f"{name} could not be measured")
    if name in LOST_EVENT_METRICS and values["acked_events"] == 0:
        return "no acknowledged event at all: nothing that could be lost"
    consumption = metrics.consumption
    if name == "unconsumed_events" and consumption and consumption.expected_events == 0:
        return "no event stored: nothing to consume"
    replay = metrics.replay
    if name in REPLAY_METRICS and replay and replay.expected_events + replay.replayed_events == 0:
        return "no acknowledged event at or after the replay start: an empty replay proves nothing"
    projections = metrics.projections
    if (
        name == "projection_matches"
        and projections
        and projections.live_keys + projections.replayed_keys == 0
    ):
        return "both projections are empty: nothing compared"
    if timing:
        late = late_reason(metrics.generator.late_fraction, policy)
        if late is not None:
            return late
        samples = values["produces_in_fault"]
        if samples is not None and samples < policy.min_ops_in_window:
            return f"too few samples: produces_in_fault = {samples} < {policy.min_ops_in_window}"
    return None
