"""Thresholds on metrics, the findings they produce, and the verdict of a run.

A finding is `inconclusive` when the number behind it cannot be trusted or does not exist:
unmeasured (no fault, no acknowledged write after it, no samples), too few operations to
judge, or a load generator that fell behind (its lateness inflates latency and hides outage).
Safety findings (lost, unexpected, duplicate writes) never depend on the generator's timing.

Database runs are judged on `HistoryMetrics` (names in `METRIC_NAMES`), event-bus runs on
`EventMetrics` (names in `EVENT_METRIC_NAMES`); an invariant may name either set, and one on
a metric the run did not measure is inconclusive.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from gracectl.checks.event_metrics import EVENT_LABEL_NAMES, EVENT_METRIC_NAMES, EventMetrics
from gracectl.checks.event_verdict import event_inconclusive_reason
from gracectl.checks.metrics import METRIC_NAMES, HistoryMetrics, MetricValue
from gracectl.checks.policy import CheckPolicy as CheckPolicy  # re-exported: lived here
from gracectl.checks.policy import late_reason
from gracectl.checks.windows import PHASES

Status = Literal["pass", "fail", "inconclusive"]
RunMetrics = HistoryMetrics | EventMetrics

# Every name an invariant may use, write-history names first (no repeats).
KNOWN_METRIC_NAMES: tuple[str, ...] = tuple(dict.fromkeys((*METRIC_NAMES, *EVENT_METRIC_NAMES)))

LOST_WRITE_METRICS = frozenset({"lost_acked_writes", "lost_acked_writes_on_replicas"})
# metric -> the sample-count metric that must reach `CheckPolicy.min_ops_in_window`
AVAILABILITY_SAMPLES: dict[str, str] = {
    "rto_s": "writes_in_fault",
    "write_unavailable_s": "writes_in_fault",
    "write_unavailable_longest_s": "writes_in_fault",
    "read_availability": "reads_in_fault",
}
LATENCY_SAMPLES: dict[str, str] = {
    f"latency_{phase}_{stat}": f"latency_{phase}_count"
    for phase in PHASES
    for stat in ("p50_s", "p99_s", "p999_s")
}
UNMEASURED_REASONS: dict[str, str] = {
    "rto_s": "no acknowledged write after the fault",
    "read_availability": "no read during the fault",
    "max_replica_lag_bytes": "no replica lag sample",
    "late_fraction": "empty history",
}


class Invariant(BaseModel):
    """A claim about one metric: `value <= max` and/or `value >= min`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    max: float | None = None
    min: float | None = None

    @model_validator(mode="after")
    def _known_metric_with_a_bound(self) -> Invariant:
        if self.name not in KNOWN_METRIC_NAMES:
            raise ValueError(
                f"unknown metric {self.name!r}; known: {', '.join(KNOWN_METRIC_NAMES)}"
            )
        if self.name in EVENT_LABEL_NAMES:
            raise ValueError(
                f"{self.name!r} is a hash, not a number: judge 'projection_matches' instead"
            )
        if self.max is None and self.min is None:
            raise ValueError(f"invariant on {self.name!r} needs max or min")
        return self

    def describe(self) -> str:
        bounds = [f">= {self.min:g}"] if self.min is not None else []
        bounds += [f"<= {self.max:g}"] if self.max is not None else []
        return f"{self.name} {' and '.join(bounds)}"


SAFETY_INVARIANTS: tuple[Invariant, ...] = tuple(
    Invariant(name=name, max=0)
    for name in (
        "lost_acked_writes",
        "unexpected_writes",
        "duplicate_writes",
        "failed_writes_present",
    )
)
EVENT_SAFETY_INVARIANTS: tuple[Invariant, ...] = tuple(
    Invariant(name=name, max=0)
    for name in (
        "lost_acked_events",
        "unexpected_events",
        "duplicate_events",
        "out_of_order_events",
    )
)
# At-least-once after a consumer dies: nothing left behind (duplicate deliveries are counted
# in the metrics but allowed).
CONSUMER_FAILOVER_INVARIANTS: tuple[Invariant, ...] = (Invariant(name="unconsumed_events", max=0),)
REPLAY_INVARIANTS: tuple[Invariant, ...] = (
    Invariant(name="replay_matches", min=1),
    Invariant(name="projection_matches", min=1),
)


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    value: MetricValue
    threshold: Invariant
    status: Status
    reason: str


def _inconclusive_reason(
    name: str, values: dict[str, MetricValue], metrics: RunMetrics, policy: CheckPolicy
) -> str | None:
    """Why the metric `name` cannot be judged, or None when it can."""
    if name not in values:
        kind = "an event-bus" if isinstance(metrics, EventMetrics) else "a database"
        return f"{name} is not measured in {kind} run"
    if isinstance(metrics, EventMetrics):
        return event_inconclusive_reason(name, values, metrics, policy)
    timing_dependent = name in AVAILABILITY_SAMPLES or name in LATENCY_SAMPLES
    if name in AVAILABILITY_SAMPLES and not metrics.faults.intervals:
        return "no fault window in the history"
    if values[name] is None:
        return UNMEASURED_REASONS.get(name, f"{name} could not be measured")
    if name in LOST_WRITE_METRICS and values["acked_writes"] == 0:
        return "no acknowledged write at all: nothing that could be lost"
    if name == "lost_acked_writes_on_replicas" and not metrics.write_set.replicas_read:
        return "no replica in the final read"
    late = late_reason(metrics.generator.late_fraction, policy)
    if timing_dependent and late is not None:
        return late
    sample_metric = AVAILABILITY_SAMPLES.get(name) or LATENCY_SAMPLES.get(name)
    if sample_metric is not None:
        samples = values[sample_metric]
        if samples is not None and samples < policy.min_ops_in_window:
            return f"too few samples: {sample_metric} = {samples} < {policy.min_ops_in_window}"
    return None


def judge(invariant: Invariant, value: float) -> Finding:
    """Compare a measured value with its invariant: pass or fail, with the comparison."""
    shown = f"{invariant.name} = {value:g}"
    if invariant.max is not None and value > invariant.max:
        return Finding(
            name=invariant.name,
            value=value,
            threshold=invariant,
            status="fail",
            reason=f"{shown} > max {invariant.max:g}",
        )
    if invariant.min is not None and value < invariant.min:
        return Finding(
            name=invariant.name,
            value=value,
            threshold=invariant,
            status="fail",
            reason=f"{shown} < min {invariant.min:g}",
        )
    return Finding(
        name=invariant.name,
        value=value,
        threshold=invariant,
        status="pass",
        reason=f"{shown} holds ({invariant.describe()})",
    )


def evaluate(
    metrics: RunMetrics,
    invariants: Iterable[Invariant] | None = None,
    policy: CheckPolicy | None = None,
) -> list[Finding]:
    """One finding per invariant, in the given order (default: the safety invariants of the
    kind of run, `SAFETY_INVARIANTS` or `EVENT_SAFETY_INVARIANTS`)."""
    policy = policy or CheckPolicy()
    if isinstance(metrics, EventMetrics):
        values = metrics.numbers()
        default = EVENT_SAFETY_INVARIANTS
    else:
        values = metrics.as_dict()
        default = SAFETY_INVARIANTS
    findings: list[Finding] = []
    for invariant in default if invariants is None else invariants:
        value = values.get(invariant.name)
        reason = _inconclusive_reason(invariant.name, values, metrics, policy)
        if reason is not None or value is None:
            findings.append(
                Finding(
                    name=invariant.name,
                    value=value,
                    threshold=invariant,
                    status="inconclusive",
                    reason=reason or "not measured",
                )
            )
        else:
            findings.append(judge(invariant, value))
    return findings


def verdict(findings: Iterable[Finding]) -> Status:
    """`fail` if any finding failed; else `inconclusive` if any was; else `pass`.

    No findings at all is `inconclusive`: a run that claimed nothing proved nothing.
    """
    statuses = {finding.status for finding in findings}
    if "fail" in statuses:
        return "fail"
    if "inconclusive" in statuses or not statuses:
        return "inconclusive"
    return "pass"
