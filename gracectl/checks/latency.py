"""Latency percentiles of acknowledged operations, before / during / after the faults.

Latency is `Operation.latency_s`: from the planned send time, so a stall that held the
generator back shows up as latency (no coordinated omission). Percentiles are exact,
nearest-rank over all samples (no histogram buckets, no interpolation): the reported p99 is
a latency some operation really had.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from fractions import Fraction

from pydantic import BaseModel, ConfigDict

from gracectl.checks.windows import PHASES, FaultUnion, Phase
from gracectl.history import Operation, OpKind

REPORTED_PERCENTILES: tuple[float, ...] = (50.0, 99.0, 99.9)


def percentile_nearest_rank(sorted_values: Sequence[float], percentile: float) -> float:
    """The smallest sample with at least `percentile` % of the samples at or below it.

    Rank = ceil(percentile / 100 * n), computed on exact fractions so that p99.9 of 1000
    samples is rank 999, not 1000 through float rounding. `sorted_values` must be sorted
    ascending and non-empty; `percentile` in (0, 100].
    """
    if not sorted_values:
        raise ValueError("no samples to take a percentile of")
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    rank = math.ceil(Fraction(str(percentile)) * len(sorted_values) / 100)
    return sorted_values[max(rank, 1) - 1]


class LatencySummary(BaseModel):
    """Sample count and nearest-rank percentiles (None when there is no sample)."""

    model_config = ConfigDict(frozen=True)

    count: int
    p50_s: float | None
    p99_s: float | None
    p999_s: float | None


def summarize_latencies(latencies: Iterable[float]) -> LatencySummary:
    """Count and p50 / p99 / p99.9 of the given latencies (seconds)."""
    ordered = sorted(latencies)
    if not ordered:
        return LatencySummary(count=0, p50_s=None, p99_s=None, p999_s=None)
    p50, p99, p999 = (percentile_nearest_rank(ordered, p) for p in REPORTED_PERCENTILES)
    return LatencySummary(count=len(ordered), p50_s=p50, p99_s=p99, p999_s=p999)


def latency_by_phase(
    operations: Iterable[Operation], faults: FaultUnion, kind: OpKind | None = None
) -> dict[Phase, LatencySummary]:
    """Latency of `ok` and `info` operations (of `kind`, or all kinds) split by
    `FaultUnion.phase_of`.

    `info` operations count: the client waited for them until its timeout, and leaving them
    out would let a stall where almost nothing succeeds report a tiny p99 (seen: 4 ms for a
    20 s write outage). `fail` operations are left out: their latency is an error path,
    counted by the availability checks. Every phase is present in the result.
    """
    samples: dict[Phase, list[float]] = {phase: [] for phase in PHASES}
    for operation in operations:
        if operation.outcome == "fail" or (kind is not None and operation.op != kind):
            continue
        samples[faults.phase_of(operation)].append(operation.latency_s)
    return {phase: summarize_latencies(values) for phase, values in samples.items()}
