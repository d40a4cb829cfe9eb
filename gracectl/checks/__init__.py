"""Checkers: pure functions over a recorded history, and the verdict they add up to.

`sets` (lost / unexpected / indeterminate / duplicate writes), `availability` (RTO, write
outage, read success), `latency` (percentiles by phase), `generator` (was the load honest),
`lag`, `windows` (fault union and phases), `metrics` (all of them, flattened) and `verdict`
(thresholds, findings, pass / fail / inconclusive, with `policy` and `event_verdict` saying
when a number is too thin to judge). Event-bus runs: `events` (lost / duplicate / out-of-order
/ unconsumed events, recovery), `replay` (replay from T, projections and their hashes) and
`event_metrics`. Nothing here does I/O.
"""

from __future__ import annotations

from gracectl.checks.availability import (
    ReadAvailability,
    WriteUnavailability,
    read_availability,
    rto_s,
    time_to_first_write_s,
    write_unavailability,
)
from gracectl.checks.event_metrics import (
    EVENT_METRIC_NAMES,
    ConsumptionReport,
    EventMetrics,
    consumption_report,
    event_metrics,
)
from gracectl.checks.events import (
    OrderViolation,
    acked_event_ids,
    duplicate_deliveries,
    duplicate_events,
    lost_acked_events,
    offset_sort_key,
    out_of_order_events,
    recovered_indeterminate_events,
    recovery_s,
    stored_event_ids,
    unconsumed_events,
    unexpected_events,
)
from gracectl.checks.generator import GeneratorHealth, generator_health
from gracectl.checks.lag import max_replica_lag_bytes
from gracectl.checks.latency import (
    LatencySummary,
    latency_by_phase,
    percentile_nearest_rank,
    summarize_latencies,
)
from gracectl.checks.metrics import (
    METRIC_NAMES,
    HistoryMetrics,
    HistorySource,
    history_metrics,
    metrics_dict,
)
from gracectl.checks.replay import (
    ProjectionComparison,
    ReplayReport,
    compare_projections,
    count_per_key,
    projection,
    projection_hash,
    replay_matches,
)
from gracectl.checks.sets import WriteSetReport, check_write_set
from gracectl.checks.verdict import (
    CONSUMER_FAILOVER_INVARIANTS,
    EVENT_SAFETY_INVARIANTS,
    KNOWN_METRIC_NAMES,
    REPLAY_INVARIANTS,
    SAFETY_INVARIANTS,
    CheckPolicy,
    Finding,
    Invariant,
    Status,
    evaluate,
    verdict,
)
from gracectl.checks.windows import FaultUnion, Phase, fault_union

__all__ = [
    "CONSUMER_FAILOVER_INVARIANTS",
    "EVENT_METRIC_NAMES",
    "EVENT_SAFETY_INVARIANTS",
    "KNOWN_METRIC_NAMES",
    "METRIC_NAMES",
    "REPLAY_INVARIANTS",
    "SAFETY_INVARIANTS",
    "CheckPolicy",
    "ConsumptionReport",
    "EventMetrics",
    "FaultUnion",
    "Finding",
    "GeneratorHealth",
    "HistoryMetrics",
    "HistorySource",
    "Invariant",
    "LatencySummary",
    "OrderViolation",
    "Phase",
    "ProjectionComparison",
    "ReadAvailability",
    "ReplayReport",
    "Status",
    "WriteSetReport",
    "WriteUnavailability",
    "acked_event_ids",
    "check_write_set",
    "compare_projections",
    "consumption_report",
    "count_per_key",
    "duplicate_deliveries",
    "duplicate_events",
    "evaluate",
    "event_metrics",
    "fault_union",
    "generator_health",
    "history_metrics",
    "latency_by_phase",
    "lost_acked_events",
    "max_replica_lag_bytes",
    "metrics_dict",
    "offset_sort_key",
    "out_of_order_events",
    "percentile_nearest_rank",
    "projection",
    "projection_hash",
    "read_availability",
    "recovered_indeterminate_events",
    "recovery_s",
    "replay_matches",
    "rto_s",
    "stored_event_ids",
    "summarize_latencies",
    "time_to_first_write_s",
    "unconsumed_events",
    "unexpected_events",
    "verdict",
    "write_unavailability",
]
