"""Run every check over one history and flatten the results into named numbers.

The history may be a list, a one-shot iterator (materialised once), or a zero-argument
callable that re-opens a stream, e.g. `lambda: read_history(path)`: then each check streams
the file again and no operation is held in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from gracectl.checks.availability import (
    DEFAULT_MIN_OUTAGE_GAP_S,
    ReadAvailability,
    WriteUnavailability,
    read_availability,
    rto_s,
    write_unavailability,
)
from gracectl.checks.generator import (
    GeneratorHealth,
    generator_health,
    generator_health_outside_faults,
)
from gracectl.checks.lag import max_replica_lag_bytes
from gracectl.checks.latency import LatencySummary, latency_by_phase
from gracectl.checks.sets import WriteSetReport, check_write_set
from gracectl.checks.windows import PHASES, FaultUnion, Phase, fault_union
from gracectl.history import FaultWindow, FinalRead, LagSample, Operation

HistorySource = Iterable[Operation] | Callable[[], Iterable[Operation]]
MetricValue = float | int | None

LATENCY_METRIC_NAMES: tuple[str, ...] = tuple(
    f"latency_{phase}_{stat}" for phase in PHASES for stat in ("p50_s", "p99_s", "p999_s")
)
METRIC_NAMES: tuple[str, ...] = (
    "rto_s",
    "attempted_writes",
    "acked_writes",
    "lost_acked_writes",
    "lost_acked_writes_on_replicas",
    "unexpected_writes",
    "indeterminate_writes",
    "recovered_indeterminate_writes",
    "unrecovered_indeterminate_writes",
    "failed_writes_present",
    "duplicate_writes",
    "writes_in_fault",
    "write_unavailable_s",
    "write_unavailable_longest_s",
    "reads_in_fault",
    "read_availability",
    "max_replica_lag_bytes",
    "late_fraction",
    "offered_rate_per_s",
    "achieved_rate_per_s",
    *(f"latency_{phase}_count" for phase in PHASES),
    *LATENCY_METRIC_NAMES,
)


class HistoryMetrics(BaseModel):
    """The result of every check on one run, before any threshold is applied."""

    model_config = ConfigDict(frozen=True)

    faults: FaultUnion
    write_set: WriteSetReport
    rto_s: float | None
    writes_in_fault: int
    write_unavailability: WriteUnavailability
    read_availability: ReadAvailability
    latency: dict[Phase, LatencySummary]
    generator: GeneratorHealth
    max_replica_lag_bytes: int | None

    def as_dict(self) -> dict[str, MetricValue]:
        """Flat metric name -> value, keys exactly `METRIC_NAMES`; None means unmeasured."""
        write_set = self.write_set
        lost_on_replicas = frozenset[int]().union(*write_set.lost_acked_ids_by_replica.values())
        values: dict[str, MetricValue] = {
            "rto_s": self.rto_s,
            "attempted_writes": len(write_set.attempted_ids),
            "acked_writes": len(write_set.acked_ids),
            "lost_acked_writes": len(write_set.lost_acked_ids),
            "lost_acked_writes_on_replicas": len(lost_on_replicas),
            "unexpected_writes": len(write_set.unexpected_ids),
            "indeterminate_writes": len(write_set.indeterminate_ids),
            "recovered_indeterminate_writes": len(write_set.recovered_indeterminate_ids),
            "unrecovered_indeterminate_writes": write_set.unrecovered_indeterminate_count,
            "failed_writes_present": len(write_set.failed_but_present_ids),
            "duplicate_writes": len(write_set.duplicate_ids),
            "writes_in_fault": self.writes_in_fault,
            "write_unavailable_s": (
                None
                if self.write_unavailability.longest_gap_s is None
                else self.write_unavailability.total_s
            ),
            "write_unavailable_longest_s": self.write_unavailability.longest_gap_s,
            "reads_in_fault": self.read_availability.reads_in_fault,
            "read_availability": self.read_availability.fraction,
            "max_replica_lag_bytes": self.max_replica_lag_bytes,
            "late_fraction": self.generator.late_fraction,
            "offered_rate_per_s": self.generator.offered_rate_per_s,
            "achieved_rate_per_s": self.generator.achieved_rate_per_s,
        }
        for phase in PHASES:
            summary = self.latency[phase]
            values[f"latency_{phase}_count"] = summary.count
            values[f"latency_{phase}_p50_s"] = summary.p50_s
            values[f"latency_{phase}_p99_s"] = summary.p99_s
            values[f"latency_{phase}_p999_s"] = summary.p999_s
        return values


Record = TypeVar("Record")


def reopenable(
    history: Iterable[Record] | Callable[[], Iterable[Record]],
) -> Callable[[], Iterable[Record]]:
    """A function giving a fresh pass over the history each call."""
    if callable(history):
        return history
    if isinstance(history, Iterator):
        materialised = list(history)
        return lambda: materialised
    collection = history
    return lambda: collection


def count_writes_in_fault(operations: Iterable[Operation], faults: FaultUnion) -> int:
    """Writes (any outcome) whose life touched a fault window: the sample behind RTO."""
    return sum(
        1
        for operation in operations
        if operation.op == "write" and faults.phase_of(operation) == "during"
    )


def _generator(passes: Callable[[], Iterable[Operation]], union: FaultUnion) -> GeneratorHealth:
    """Rates over the whole run; the late share only outside the fault windows (see
    generator_health_outside_faults), unless nothing lies outside them."""
    whole = generator_health(passes())
    outside = generator_health_outside_faults(passes(), union)
    if not outside.operations:
        return whole
    return whole.model_copy(
        update={"operations": outside.operations, "late_operations": outside.late_operations}
    )


def history_metrics(
    history: HistorySource,
    faults: Iterable[FaultWindow],
    final_read: FinalRead,
    lag_samples: Iterable[LagSample] = (),
    min_outage_gap_s: float = DEFAULT_MIN_OUTAGE_GAP_S,
) -> HistoryMetrics:
    """Run every check; each makes its own single pass over the history."""
    passes = reopenable(history)
    union = fault_union(faults)
    return HistoryMetrics(
        faults=union,
        write_set=check_write_set(passes(), final_read),
        rto_s=rto_s(passes(), union),
        writes_in_fault=count_writes_in_fault(passes(), union),
        write_unavailability=write_unavailability(passes(), union, min_outage_gap_s),
        read_availability=read_availability(passes(), union),
        latency=latency_by_phase(passes(), union),
        generator=_generator(passes, union),
        max_replica_lag_bytes=max_replica_lag_bytes(lag_samples),
    )


def metrics_dict(
    history: HistorySource,
    faults: Iterable[FaultWindow],
    final_read: FinalRead,
    lag_samples: Iterable[LagSample] = (),
) -> dict[str, MetricValue]:
    """`history_metrics(...).as_dict()`: the flat numbers a journal or report stores."""
    return history_metrics(history, faults, final_read, lag_samples).as_dict()
