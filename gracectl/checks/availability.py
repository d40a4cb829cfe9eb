"""Availability under faults: time to the first good write, write outage, read success rate.

All three look at the fault union (see `windows`), each in one pass over the history.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence

from pydantic import BaseModel, ConfigDict

from gracectl.checks.windows import FaultUnion
from gracectl.history import Operation

DEFAULT_MIN_OUTAGE_GAP_S = 1.0


def first_ack_after(
    acks: Iterable[tuple[float, float]], since: Sequence[float]
) -> list[float | None]:
    """For each time in `since`: seconds from it to the earliest acknowledgement (`end`) among
    the `(start, end)` pairs of successful operations sent (`start`) at or after it, in one
    pass; None where there is none.

    Operations sent before a time do not count for it even if acknowledged after it: they may
    have been committed before the fault took effect.
    """
    first: list[float | None] = [None] * len(since)
    for start, end in acks:
        for i, t in enumerate(since):
            current = first[i]
            if start >= t and (current is None or end < current):
                first[i] = end
    return [None if f is None else f - t for f, t in zip(first, since, strict=True)]


def time_to_first_write_s(operations: Iterable[Operation], since: float) -> float | None:
    """Seconds from `since` to the acknowledgement (`end`) of the first `ok` write that was
    sent (`start`) at or after `since`; None when no such write exists."""
    return first_ack_after(_ok_writes(operations), [since])[0]


def _ok_writes(operations: Iterable[Operation]) -> Iterator[tuple[float, float]]:
    return ((o.start, o.end) for o in operations if o.op == "write" and o.outcome == "ok")


def slowest_recovery(acks: Iterable[tuple[float, float]], faults: FaultUnion) -> float | None:
    """The longest time, over every fault, from its start to the first success sent after it.

    Measured per fault, not from the first one only: when a fault that leaves the system
    working (frozen replication) is followed by one that stops it (a killed leader), the
    recovery is the second's. None when there is no fault, or when nothing succeeded after
    some fault (never a made-up number).
    """
    if not faults.starts:
        return None
    per_fault = first_ack_after(acks, faults.starts)
    if any(r is None for r in per_fault):
        return None
    return max(r for r in per_fault if r is not None)


def rto_s(operations: Iterable[Operation], faults: FaultUnion) -> float | None:
    """Recovery time of writes: `slowest_recovery` over the `ok` writes."""
    return slowest_recovery(_ok_writes(operations), faults)


class WriteUnavailability(BaseModel):
    """Gaps without any write acknowledgement that touch a fault window."""

    model_config = ConfigDict(frozen=True)

    longest_gap_s: float | None  # None: no fault, or no write at all
    total_s: float
    gaps: tuple[tuple[float, float], ...]  # (from, to) of each gap counted in total_s
    recovered: bool  # False: the last counted gap runs to the end of the history (a lower bound)


def write_unavailability(
    operations: Iterable[Operation],
    faults: FaultUnion,
    min_gap_s: float = DEFAULT_MIN_OUTAGE_GAP_S,
) -> WriteUnavailability:
    """Write outage: `ack_gaps` over the writes."""
    return ack_gaps(
        ((o.end, o.outcome == "ok") for o in operations if o.op == "write"), faults, min_gap_s
    )


def ack_gaps(
    completions: Iterable[tuple[float, bool]],
    faults: FaultUnion,
    min_gap_s: float = DEFAULT_MIN_OUTAGE_GAP_S,
) -> WriteUnavailability:
    """Measure outage as gaps between consecutive successful completions (`(end, ok)` pairs).

    Definition: sort the `end` of every success; add the end of the last completion of any
    outcome as a final boundary (no outage is invented after the load stopped). A gap is
    the interval between two consecutive boundaries (the first gap starts at -inf). A gap
    counts if it touches a fault window; its length is measured from no earlier than the
    start of the first window it touches (an outage cannot precede its fault).
    `longest_gap_s` is the longest such gap; `total_s` sums those longer than `min_gap_s`
    (shorter gaps are the normal spacing between acknowledgements at the offered rate).
    """
    ok_ends: list[float] = []
    last_end = -math.inf
    for end, ok in completions:
        last_end = max(last_end, end)
        if ok:
            ok_ends.append(end)
    if not faults.intervals or last_end == -math.inf:
        return WriteUnavailability(longest_gap_s=None, total_s=0.0, gaps=(), recovered=False)

    ok_ends.sort()
    boundaries = [-math.inf, *ok_ends]
    tail_unacknowledged = not ok_ends or ok_ends[-1] < last_end
    if tail_unacknowledged:
        boundaries.append(last_end)
    longest = 0.0
    gaps: list[tuple[float, float]] = []
    for gap_start, gap_end in itertools.pairwise(boundaries):
        window = faults.overlapping(gap_start, gap_end)
        if window is None:
            continue
        clipped_start = max(gap_start, window.start)
        length = gap_end - clipped_start
        longest = max(longest, length)
        if length > min_gap_s:
            gaps.append((clipped_start, gap_end))
    return WriteUnavailability(
        longest_gap_s=longest,
        total_s=sum(end - start for start, end in gaps),
        gaps=tuple(gaps),
        # still out at the end: the counted outage runs into the unacknowledged last ones
        recovered=not (tail_unacknowledged and gaps and gaps[-1][1] == last_end),
    )


class ReadAvailability(BaseModel):
    """Reads whose life [intended, end] touched a fault window, and how many were `ok`."""

    model_config = ConfigDict(frozen=True)

    reads_in_fault: int
    ok_reads_in_fault: int

    @property
    def fraction(self) -> float | None:
        """`ok` share of reads during the faults; None when there were none to judge."""
        if self.reads_in_fault == 0:
            return None
        return self.ok_reads_in_fault / self.reads_in_fault


def read_availability(operations: Iterable[Operation], faults: FaultUnion) -> ReadAvailability:
    """Count reads in the `during` phase (an unhealed fault runs to the end of the history)."""
    total = 0
    ok = 0
    for operation in operations:
        if operation.op != "read" or faults.phase_of(operation) != "during":
            continue
        total += 1
        ok += operation.outcome == "ok"
    return ReadAvailability(reads_in_fault=total, ok_reads_in_fault=ok)
