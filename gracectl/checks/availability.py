"""Availability under faults: time to the first good write, write outage, read success rate.

All three look at the fault union (see `windows`), each in one pass over the history.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from gracectl.checks.windows import FaultUnion
from gracectl.history import Operation

DEFAULT_MIN_OUTAGE_GAP_S = 1.0


def time_to_first_write_s(operations: Iterable[Operation], since: float) -> float | None:
    """Seconds from `since` to the acknowledgement (`end`) of the first `ok` write that was
    sent (`start`) at or after `since`; None when no such write exists.

    Writes sent before `since` do not count even if acknowledged after it: they may have
    been committed before the fault took effect.
    """
    first_ack: float | None = None
    for operation in operations:
        if not (operation.op == "write" and operation.outcome == "ok" and operation.start >= since):
            continue
        if first_ack is None or operation.end < first_ack:
            first_ack = operation.end
    return None if first_ack is None else first_ack - since


def rto_s(operations: Iterable[Operation], faults: FaultUnion) -> float | None:
    """Recovery time: `time_to_first_write_s` from the start of the first fault.

    None when there is no fault, or no write succeeded after it (never a made-up number).
    """
    first_start = faults.first_start
    if first_start is None:
        return None
    return time_to_first_write_s(operations, first_start)


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
    """Measure write outage as gaps between consecutive `ok` write completions (by `end`).

    Definition: sort the `end` of every `ok` write; add the end of the last write of any
    outcome as a final boundary (no outage is invented after the writers stopped). A gap is
    the interval between two consecutive boundaries (the first gap starts at -inf). A gap
    counts if it touches a fault window; its length is measured from no earlier than the
    start of the first window it touches (an outage cannot precede its fault).
    `longest_gap_s` is the longest such gap; `total_s` sums those longer than `min_gap_s`
    (shorter gaps are the normal spacing between acknowledgements at the offered rate).
    """
    ok_ends: list[float] = []
    last_write_end = -math.inf
    for operation in operations:
        if operation.op != "write":
            continue
        last_write_end = max(last_write_end, operation.end)
        if operation.outcome == "ok":
            ok_ends.append(operation.end)
    if not faults.intervals or last_write_end == -math.inf:
        return WriteUnavailability(longest_gap_s=None, total_s=0.0, gaps=(), recovered=False)

    ok_ends.sort()
    boundaries = [-math.inf, *ok_ends]
    tail_unacknowledged = not ok_ends or ok_ends[-1] < last_write_end
    if tail_unacknowledged:
        boundaries.append(last_write_end)
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
        # still out at the end: the counted outage runs into the unacknowledged last writes
        recovered=not (tail_unacknowledged and gaps and gaps[-1][1] == last_write_end),
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
