"""What an event workload is asked to do (EventWorkloadSpec), what it leaves behind
(EventWorkloadResult), and the file names of its run directory, shared by the caller's side
(gracectl.event_workload) and the subprocess (gracectl.event_workload_run)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gracectl.bus import DEFAULT_TOPIC, EventBus, open_bus
from gracectl.bus.kafka_bus import KafkaBus
from gracectl.bus.redis_streams import RedisStreamsBus
from gracectl.errors import GracectlError

HISTORY_DIR_NAME = "events"
SPEC_NAME = "event_spec.json"
CONSUMERS_NAME = "consumers.json"
PRODUCERS_DONE_NAME = "producers.done"
OUTPUT_NAME = "event_workload.out"
#: Connection environment passed through to the subprocess (gracectl.bus.factory).
PASSED_ENV_PREFIXES = ("GRACE_BUS", "GRACECTL_BUS", "GRACE_KAFKA_", "GRACE_REDIS_")
#: Interpreter start, imports, topic creation and consumer processes' start.
_STARTUP_SLACK_S = 15.0
_NAME = r"^[A-Za-z0-9._-]{1,200}$"


class EventWorkloadError(GracectlError):
    """The event workload could not be started or read back."""


class EventWorkloadSpec(BaseModel):
    """How much event load, for how long. `produce_rate` is the total over the producers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    producers: int = Field(2, ge=1, le=64)
    produce_rate: float = Field(100.0, gt=0, le=100_000)  # events/s, all producers together
    consumers: int = Field(2, ge=0, le=64)
    consumer_processes: bool = True  # each consumer its own OS process (killable)
    group: str = Field("grace-consumers", pattern=_NAME)
    topic: str = Field(DEFAULT_TOPIC, pattern=_NAME)
    partitions: int = Field(3, ge=1, le=256)
    duration_s: float = Field(10.0, gt=0, le=86_400)
    op_timeout_s: float = Field(2.0, gt=0, le=60)
    late_tolerance_s: float = Field(0.05, ge=0)
    keys: int = Field(16, ge=1, le=1_000_000)  # distinct keys (for projections)
    #: Pad each event's value (JSON) to this many bytes; 0: no padding (~50 bytes).
    payload_bytes: int = Field(0, ge=0, le=1_000_000)
    #: After the producers end, consumers read on until a read comes back empty this long
    #: after it, so a dead consumer's pending events can be taken over.
    drain_s: float = Field(5.0, ge=0, le=600)
    #: Redis Streams: a consumer's pending entries idle this long are claimed (XAUTOCLAIM)
    #: by another; Kafka moves a dead member's partitions after its session timeout (10 s).
    claim_idle_s: float = Field(3.0, gt=0, le=600)

    @model_validator(mode="after")
    def _drain_outlasts_claim(self) -> EventWorkloadSpec:
        if self.consumers and self.drain_s <= self.claim_idle_s:
            raise ValueError("drain_s must exceed claim_idle_s, or a dead consumer's "
                             "pending events are never taken over")  # fmt: skip
        return self

    @property
    def rate_per_producer(self) -> float:
        return self.produce_rate / self.producers

    @property
    def expected_events(self) -> int:
        """Events the schedule plans (each producer rounds its share up)."""
        interval = 1.0 / self.rate_per_producer
        per_producer = int(-(-self.duration_s // interval))
        return per_producer * self.producers

    @property
    def run_bound_s(self) -> float:
        """How long a run may take (before the timeout multiplier): the schedule, a late
        backlog (op_timeout), the last produce, the consumers' drain, and startup."""
        return self.duration_s + 2 * self.op_timeout_s + self.drain_s + _STARTUP_SLACK_S


@dataclass(frozen=True)
class EventWorkloadResult:
    history_dir: Path
    history_paths: tuple[Path, ...]
    output_path: Path  # the subprocess's stdout and stderr (its log)
    exit_code: int | None  # None: the process had to be killed
    stopped: bool  # stopped on demand (or by the wait timeout) before it ended by itself
    killed: bool  # ignored SIGTERM within the grace period: SIGKILLed

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


#: Kafka batches what producers send within this window (librdkafka's and, since Kafka 4.0,
#: the Java producer's default): without it each event is its own produce request.
KAFKA_LINGER_MS = 5


def open_topic_bus(spec: EventWorkloadSpec) -> EventBus:
    """In the subprocess: the bus named by its environment, tuned for this spec."""
    bus = open_bus(os.environ, topic=spec.topic)
    if isinstance(bus, RedisStreamsBus):
        bus.claim_idle_ms = int(spec.claim_idle_s * 1000)
    if isinstance(bus, KafkaBus):
        bus.linger_ms = KAFKA_LINGER_MS
    return bus
