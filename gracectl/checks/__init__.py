"""Checkers: pure functions over a recorded history, and the verdict they add up to.

`sets` (lost / unexpected / indeterminate / duplicate writes), `availability` (RTO, write
outage, read success), `latency` (percentiles by phase), `generator` (was the load honest),
`lag`, `windows` (fault union and phases), `metrics` (all of them, flattened) and `verdict`
(thresholds, findings, pass / fail / inconclusive). Nothing here does I/O.
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
from gracectl.checks.sets import WriteSetReport, check_write_set
from gracectl.checks.verdict import (
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
    "METRIC_NAMES",
    "SAFETY_INVARIANTS",
    "CheckPolicy",
    "FaultUnion",
    "Finding",
    "GeneratorHealth",
    "HistoryMetrics",
    "HistorySource",
    "Invariant",
    "LatencySummary",
    "Phase",
    "ReadAvailability",
    "Status",
    "WriteSetReport",
    "WriteUnavailability",
    "check_write_set",
    "evaluate",
    "fault_union",
    "generator_health",
    "history_metrics",
    "latency_by_phase",
    "max_replica_lag_bytes",
    "metrics_dict",
    "percentile_nearest_rank",
    "read_availability",
    "rto_s",
    "summarize_latencies",
    "time_to_first_write_s",
    "verdict",
    "write_unavailability",
]
