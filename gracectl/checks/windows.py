"""Fault windows as time: their union, and which phase (before/during/after) an operation is in.

Windows may overlap (two faults injected at once); everything here works on their union, so
time covered by two faults counts once. A window that was never healed (`end is None`) is open
until the end of time, i.e. to the end of the history.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from gracectl.history import FaultWindow

Phase = Literal["before", "during", "after"]
PHASES: tuple[Phase, ...] = ("before", "during", "after")


class TimedOperation(Protocol):
    """What phases need of an operation: an `Operation` or an `EventOp`."""

    @property
    def intended(self) -> float: ...

    @property
    def end(self) -> float: ...


class Interval(BaseModel):
    """A closed time interval; `end` is `math.inf` for a fault that was never healed."""

    model_config = ConfigDict(frozen=True)

    start: float
    end: float

    def overlaps(self, start: float, end: float) -> bool:
        return start <= self.end and end >= self.start


class FaultUnion(BaseModel):
    """The union of fault windows as disjoint intervals sorted by start (empty: no fault)."""

    model_config = ConfigDict(frozen=True)

    intervals: tuple[Interval, ...] = ()
    #: The start of every fault window before merging, sorted: a later fault inside an
    #: earlier one's window still has its own recovery to measure.
    starts: tuple[float, ...] = ()

    @property
    def first_start(self) -> float | None:
        return self.intervals[0].start if self.intervals else None

    def overlapping(self, start: float, end: float) -> Interval | None:
        """The first merged window that [start, end] touches, if any."""
        for interval in self.intervals:
            if interval.overlaps(start, end):
                return interval
        return None

    def phase_of(self, operation: TimedOperation) -> Phase:
        """Phase of an operation by its life from planned send to completion.

        `during`: [intended, end] touches any window, so an operation planned before a fault
        but stalled by it counts as affected by it; `before`: completed before the first fault;
        `after`: everything else (after healing, including gaps between disjoint windows).
        Without any fault every operation is `before`.
        """
        if self.overlapping(operation.intended, operation.end) is not None:
            return "during"
        first_start = self.first_start
        if first_start is None or operation.end < first_start:
            return "before"
        return "after"


def fault_union(faults: Iterable[FaultWindow]) -> FaultUnion:
    """Merge possibly overlapping windows into disjoint intervals (open windows end at inf)."""
    ordered: Sequence[Interval] = sorted(
        (Interval(start=f.start, end=math.inf if f.end is None else f.end) for f in faults),
        key=lambda interval: interval.start,
    )
    merged: list[Interval] = []
    for interval in ordered:
        if merged and interval.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(start=last.start, end=max(last.end, interval.end))
        else:
            merged.append(interval)
    return FaultUnion(intervals=tuple(merged), starts=tuple(i.start for i in ordered))
