"""Health of the load generator: could it send at the rate it planned?

If it could not, latency and availability numbers describe the generator as much as the
system under test, and the verdict layer marks them inconclusive.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from gracectl.checks.windows import FaultUnion, TimedOperation


class ScheduledOperation(TimedOperation, Protocol):
    """What generator health needs of an operation: an `Operation` or an `EventOp`."""

    @property
    def start(self) -> float: ...

    @property
    def late(self) -> bool: ...


class GeneratorHealth(BaseModel):
    """Late share and planned vs actual send rates (rates None with fewer than 2 ops)."""

    model_config = ConfigDict(frozen=True)

    operations: int
    late_operations: int
    offered_rate_per_s: float | None  # (n - 1) / (last intended - first intended)
    achieved_rate_per_s: float | None  # (n - 1) / (last start - first start)

    @property
    def late_fraction(self) -> float | None:
        """Share of operations flagged `late`; None for an empty history."""
        if self.operations == 0:
            return None
        return self.late_operations / self.operations


def _rate(count: int, first: float, last: float) -> float | None:
    if count < 2 or last <= first:
        return None
    return (count - 1) / (last - first)


def generator_health(operations: Iterable[ScheduledOperation]) -> GeneratorHealth:
    """Offered rate from planned send times, achieved rate from actual send times.

    Both count every operation (reads and writes, any outcome): the generator's job is to
    send, not to succeed. n operations span n - 1 intervals, hence the n - 1.
    """
    count = 0
    late = 0
    first_intended = first_start = float("inf")
    last_intended = last_start = float("-inf")
    for operation in operations:
        count += 1
        late += operation.late
        first_intended = min(first_intended, operation.intended)
        last_intended = max(last_intended, operation.intended)
        first_start = min(first_start, operation.start)
        last_start = max(last_start, operation.start)
    return GeneratorHealth(
        operations=count,
        late_operations=late,
        offered_rate_per_s=_rate(count, first_intended, last_intended),
        achieved_rate_per_s=_rate(count, first_start, last_start),
    )


def generator_health_outside_faults(
    operations: Iterable[ScheduledOperation], faults: FaultUnion
) -> GeneratorHealth:
    """Generator health judged where the system was meant to be healthy.

    During a fault a stalled user falls behind its schedule because the *system* stalled:
    that lateness is the fault's latency, not the generator's weakness. Only when no
    operation lies outside the fault windows is the whole history used.
    """
    outside = [op for op in operations if faults.phase_of(op) != "during"]
    return generator_health(outside)
