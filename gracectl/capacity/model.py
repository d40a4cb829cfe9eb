"""What a capacity run records: one StepResult per offered rate, one ComponentCapacity per
component, all in a CapacityJournal (reports are rendered from it alone)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gracectl.journal_file import JournalFile
from gracectl.machine import MachineInfo

CAPACITY_JOURNAL_VERSION = 1

CapacityComponent = Literal["postgres-write", "postgres-read", "redis", "kafka", "http"]
COMPONENTS: tuple[CapacityComponent, ...] = (
    "postgres-write", "postgres-read", "redis", "kafka", "http",
)  # fmt: skip
#: The unit each component's throughput is counted in.
UNITS: dict[CapacityComponent, str] = {
    "postgres-write": "writes/s",
    "postgres-read": "reads/s",
    "redis": "ops/s",
    "kafka": "events/s",
    "http": "requests/s",
}
CapacityStatus = Literal["measured", "inconclusive"]


class Slo(BaseModel):
    """What a step must meet to count as sustained (besides achieved >= 99 % of offered)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    p99_ms: float = Field(50.0, gt=0)
    error_fraction: float = Field(0.001, ge=0, le=1)  # "errors=0.1%"

    def describe(self) -> str:
        return f"p99={self.p99_ms:g}ms,errors={self.error_fraction * 100:g}%"


class StepResult(BaseModel):
    """One offered rate held for a while. Latencies are from the planned send time."""

    model_config = ConfigDict(frozen=True)

    offered_rate: float  # operations/s the schedule asked for
    achieved_rate: float  # successful operations/s over the step
    sent: int
    ok: int
    errors: int
    late: int  # sends that left later than the tolerance after their planned time
    #: Of `late`: sends whose user was idle at the planned time, so the generator itself
    #: (its CPU, its event loop) held them back, not a slow answer to the previous request.
    late_generator: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    p999_ms: float | None = None
    #: The system's own time (request sent -> answer), p99: without the generator's delays.
    service_p99_ms: float | None = None
    generator_cpu: float = 0.0  # busiest load process, fraction of one core (1.0 = saturated)
    loop_blocked_ms: float | None = None  # longest event-loop stall seen in the generator
    started: float = 0.0
    ended: float = 0.0
    sustained: bool = False  # achieved >= 99 % of offered and the SLO holds
    generator_saturated: bool = False  # the generator, not the system, fell behind
    note: str = ""

    @property
    def error_fraction(self) -> float:
        return self.errors / self.sent if self.sent else 0.0


class NativeCeiling(BaseModel):
    """A native tool's figure against the same endpoint (pgbench, redis-benchmark,
    Kafka's ProducerPerformance)."""

    model_config = ConfigDict(frozen=True)

    tool: str
    command: str  # as run, passwords removed
    throughput: float
    unit: str
    p99_ms: float | None = None
    detail: str = ""


class ComponentCapacity(BaseModel):
    """The outcome for one component: the maximum sustainable rate and the knee, or why there
    is none (`inconclusive` with a reason: generator saturated at N/s, no target, ...)."""

    component: CapacityComponent
    target: str  # the endpoint measured (no password)
    unit: str
    status: CapacityStatus = "inconclusive"
    reason: str = ""
    max_sustainable_rate: float | None = None  # highest sustained step's achieved rate
    knee_rate: float | None = None  # offered rate where latency turns up
    generator_limit_rate: float | None = None  # offered rate where the generator saturated
    steps: list[StepResult] = []
    native: NativeCeiling | None = None
    ratio_to_native: float | None = None  # max_sustainable_rate / native.throughput
    native_error: str = ""  # why there is no native figure (tool missing, failed, none)
    slo: Slo = Slo()


class CapacityJournal(JournalFile, BaseModel):
    kind: Literal["capacity"] = "capacity"
    version: int = CAPACITY_JOURNAL_VERSION
    start: float
    end: float | None = None
    profile: str
    machine: MachineInfo
    results: list[ComponentCapacity] = []
    #: The signal that stopped the run early ("SIGINT"), empty when it ran its course.
    interrupted: str = ""

    def result_of(self, component: CapacityComponent) -> ComponentCapacity | None:
        return next((r for r in self.results if r.component == component), None)
