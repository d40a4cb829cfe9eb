"""The recorded history of a run: one JSON object per operation, one per line, streamed to disk.

Two kinds of history share this format: database runs record `Operation`s (writes and reads
of unique ids); event-bus runs record `EventOp`s (produce and consume of sequence-numbered
events) and end with an `EventRead` of every partition in log order.

Jepsen's vocabulary: an operation is `ok` (acknowledged), `fail` (definitely did not happen)
or `info` (indeterminate: the connection broke or timed out after the request was sent, so it
may or may not have taken effect). Times are Unix seconds (float). `intended` is when the
open-model schedule planned the operation; latency is measured from it, so a stall shows up
as latency instead of vanishing (coordinated omission).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

Outcome = Literal["ok", "fail", "info"]
OpKind = Literal["write", "read"]
EventOpKind = Literal["produce", "consume"]
# An event's identity: (producer, seq). Producers number their events 0, 1, 2, ... so the
# pair is unique for every event ever attempted, whatever its key or partition.
EventId = tuple[str, int]


class Operation(BaseModel):
    model_config = ConfigDict(frozen=True)

    worker: str  # "writer-3", "reader-0"
    op: OpKind
    value: int | None = None  # the unique id written, or the id read
    intended: float  # planned send time
    start: float  # actual send time (>= intended when the generator ran late)
    end: float
    outcome: Outcome
    error: str | None = None
    late: bool = False  # could not be sent on time (start - intended beyond tolerance)

    @property
    def latency_s(self) -> float:
        """From the planned send time: includes time spent waiting behind a stall."""
        return self.end - self.intended


class FaultWindow(BaseModel):
    """A fault as it happened: from injection to healed (end None: never healed in the run)."""

    model_config = ConfigDict(frozen=True)

    name: str  # "postgres.kill_leader"
    target: str  # "pg-1"
    start: float
    end: float | None = None


class FinalRead(BaseModel):
    """Every id found after the run: on the leader, and on each replica once caught up."""

    model_config = ConfigDict(frozen=True)

    leader: str
    leader_ids: frozenset[int]
    replica_ids: dict[str, frozenset[int]] = {}
    # A set cannot hold an id twice, so the reader reports ids it saw more than once here
    # (id -> times seen, always > 1): a write applied twice is a violation the set would hide.
    leader_duplicates: dict[int, int] = {}


class LagSample(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: float
    node: str
    lag_bytes: int


class EventOp(BaseModel):
    """One produce or consume of a sequence-numbered event on a bus (Kafka or Redis Streams).

    produce: `worker` is the producer, `seq` its next sequence number, `partition` where it
    was sent; `ok` means acknowledged (acks=all / XADD returned), and then `offset` and
    `timestamp_ms` are what the broker assigned. consume: `worker` is the consumer,
    `producer`/`seq` come from the event's payload, `offset`/`timestamp_ms` from the log.
    """

    model_config = ConfigDict(frozen=True)

    worker: str  # "producer-0", "consumer-2"
    op: EventOpKind
    key: str  # the message key (partitioning, projections)
    seq: int  # the producer's sequence number
    partition: str  # Kafka "topic/partition" or a Redis stream name
    offset: str | None = None  # Kafka offset as str, or a Redis stream id "1732700000000-0"
    timestamp_ms: int | None = None  # the event's timestamp in the log
    producer: str | None = None  # consume: who produced the event (produce: None, the worker)
    intended: float
    start: float
    end: float
    outcome: Outcome
    error: str | None = None
    late: bool = False

    @property
    def event_id(self) -> EventId:
        return (self.producer or self.worker, self.seq)

    @property
    def latency_s(self) -> float:
        """From the planned send time, as `Operation.latency_s`."""
        return self.end - self.intended


class StoredEvent(BaseModel):
    """An event as found in the log by a read after the run."""

    model_config = ConfigDict(frozen=True)

    key: str
    seq: int
    producer: str
    offset: str
    timestamp_ms: int | None = None

    @property
    def event_id(self) -> EventId:
        return (self.producer, self.seq)


class EventRead(BaseModel):
    """Every event found in each partition / stream, in log order (a replay has this shape too)."""

    model_config = ConfigDict(frozen=True)

    partitions: dict[str, tuple[StoredEvent, ...]] = {}

    def events(self) -> Iterator[StoredEvent]:
        """All events, partition after partition (sorted by name), each in log order."""
        for partition in sorted(self.partitions):
            yield from self.partitions[partition]


Record = TypeVar("Record", bound=BaseModel)


class HistoryWriter:
    """Appends operations (or event ops) to a JSON-lines file, flushed per line (nothing held
    in memory)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] = path.open("a", buffering=1)

    def append(self, op: Operation | EventOp) -> None:
        self._fh.write(op.model_dump_json(exclude_defaults=True) + "\n")

    def close(self) -> None:
        self._fh.close()


def read_records(path: Path, model: type[Record]) -> Iterator[Record]:
    """Stream records of one model back; a torn last line (writer killed mid-write) and lines
    of another model are skipped."""
    with path.open() as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                yield model.model_validate(json.loads(line))
            except ValueError:
                continue


def read_history(path: Path) -> Iterator[Operation]:
    """Stream operations back; a torn last line (writer killed mid-write) is skipped."""
    return read_records(path, Operation)


def read_event_history(path: Path) -> Iterator[EventOp]:
    """Stream event ops back; a torn last line is skipped."""
    return read_records(path, EventOp)
