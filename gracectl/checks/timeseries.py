"""Per-second throughput and latency of a run: the series a report plots over time.

The journal keeps these buckets so a report can draw the run after its history file is gone.
Counts are by completion time (what the system delivered in that second: an outage is a run
of seconds with no `ok`); latency is of the `ok` and `info` operations *planned* in that
second, measured from the planned send time, so a stall shows as a spike where it began
(no coordinated omission) and, as in `latency`, `fail` operations are left out.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from gracectl.checks.latency import percentile_nearest_rank
from gracectl.history import Outcome

BUCKET_S = 1.0


class SeriesOperation(Protocol):
    """What the series needs of an operation: an `Operation` or an `EventOp`."""

    @property
    def op(self) -> str: ...

    @property
    def intended(self) -> float: ...

    @property
    def end(self) -> float: ...

    @property
    def outcome(self) -> Outcome: ...


class TimeBucket(BaseModel):
    model_config = ConfigDict(frozen=True)

    t_s: float  # start of the bucket, seconds after the series' origin
    ok: int = 0  # completed in this bucket, by outcome
    failed: int = 0
    info: int = 0
    latency_count: int = 0  # ok + info operations planned in this bucket
    p50_s: float | None = None
    p99_s: float | None = None


class OperationSeries(BaseModel):
    """One kind of operation ("write", "read", "produce") over the run, every bucket from
    the origin to the last completion present (empty seconds included: they are the gaps)."""

    model_config = ConfigDict(frozen=True)

    op: str
    origin: float  # Unix time of t_s = 0: the first planned send, floored to the bucket
    bucket_s: float = BUCKET_S
    buckets: list[TimeBucket] = []


def per_second_series(
    operations: Iterable[SeriesOperation], bucket_s: float = BUCKET_S
) -> list[OperationSeries]:
    """One series per operation kind (sorted by name), all sharing one origin and one
    bucket range so they line up on a plot. One pass; holds one float per ok/info op."""
    if bucket_s <= 0:
        raise ValueError(f"bucket_s must be positive, got {bucket_s}")
    counts: dict[tuple[str, int], dict[Outcome, int]] = defaultdict(
        lambda: {"ok": 0, "fail": 0, "info": 0}
    )
    latencies: dict[tuple[str, int], list[float]] = defaultdict(list)
    kinds: set[str] = set()
    first = last = None
    for operation in operations:
        planned = math.floor(operation.intended / bucket_s)
        done = math.floor(operation.end / bucket_s)
        kinds.add(operation.op)
        counts[operation.op, done][operation.outcome] += 1
        if operation.outcome != "fail":
            latencies[operation.op, planned].append(operation.end - operation.intended)
        low, high = min(planned, done), max(planned, done)
        first = low if first is None else min(first, low)
        last = high if last is None else max(last, high)
    if first is None or last is None:
        return []
    return [
        OperationSeries(
            op=kind,
            origin=first * bucket_s,
            bucket_s=bucket_s,
            buckets=[
                _bucket(
                    (index - first) * bucket_s,
                    counts.get((kind, index)),
                    latencies.get((kind, index), []),
                )
                for index in range(first, last + 1)
            ],
        )
        for kind in sorted(kinds)
    ]


def _bucket(t_s: float, counts: dict[Outcome, int] | None, latencies: list[float]) -> TimeBucket:
    ordered = sorted(latencies)
    counts = counts or {"ok": 0, "fail": 0, "info": 0}
    return TimeBucket(
        t_s=t_s,
        ok=counts["ok"],
        failed=counts["fail"],
        info=counts["info"],
        latency_count=len(ordered),
        p50_s=percentile_nearest_rank(ordered, 50.0) if ordered else None,
        p99_s=percentile_nearest_rank(ordered, 99.0) if ordered else None,
    )
