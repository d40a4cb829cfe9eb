"""The event-bus client interface: what a producer, a consumer group and an auditor need from
the stack's bus, whichever it is (Kafka or Redis Streams).

The I/O is blocking and simple on purpose (`produce_async` only defers the wait: its outcome
is reported from `poll` / `flush`, in the calling thread). confluent-kafka's poll/flush are C
calls that block every gevent greenlet of the process (FIELD-NOTES), so an `EventBus` must
NOT be used inside gevent greenlets (Locust users): load generation with it runs in plain
threads, or in its own process. One `EventBus` instance is not thread-safe either; give each
thread its own.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Literal, Self

DEFAULT_TOPIC = "grace-events"

AckStatus = Literal["ok", "fail", "indeterminate"]


@dataclass(frozen=True)
class Ack:
    """The outcome of one produce.

    ok: the bus acknowledged the event (Kafka: acks=all; Redis: the master returned an id).
    fail: it certainly was not written (refused, or never sent).
    indeterminate: it may or may not have been written (timeout or connection lost after
    sending); a checker must treat it as "unknown", never as a loss.
    """

    status: AckStatus
    partition: int | None = None
    #: Kafka: the offset as decimal text; Redis: the stream entry id `<ms>-<seq>`.
    offset: str | None = None
    timestamp_ms: int | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Event:
    """One event read back from the bus."""

    topic: str
    partition: int
    #: Kafka: the offset as decimal text; Redis: the stream entry id `<ms>-<seq>`.
    offset: str
    timestamp_ms: int
    key: str
    value: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


class EventBus(abc.ABC):
    """A partitioned, replayable log with consumer groups. `topic` defaults every method's
    topic; events are text (UTF-8) keys and values."""

    kind: str = ""

    def __init__(self, topic: str = DEFAULT_TOPIC) -> None:
        self.topic = topic

    def _topic(self, topic: str | None) -> str:
        return topic or self.topic

    @abc.abstractmethod
    def create_topic(self, name: str, partitions: int) -> None:
        """Create `name` with `partitions` partitions; a no-op if it exists with that many.
        Raises ConfigError if it exists with another number, BusError if the bus refuses."""

    @abc.abstractmethod
    def partitions(self, topic: str | None = None) -> int:
        """How many partitions the topic has (BusError if it does not exist)."""

    @abc.abstractmethod
    def produce(
        self,
        key: str,
        value: str,
        *,
        topic: str | None = None,
        partition: int | None = None,
        timeout_s: float | None = None,
    ) -> Ack:
        """Write one event and wait for the bus's answer. Never raises for a refused or lost
        write: that is what the Ack says. `partition` None: chosen from the key."""

    def produce_async(
        self,
        key: str,
        value: str,
        on_ack: Callable[[Ack], None],
        *,
        topic: str | None = None,
        partition: int | None = None,
    ) -> None:
        """Send one event without waiting for the bus's answer: `on_ack` gets the Ack once
        the bus reports it, from a later `poll` or `flush` in this same thread (or at once
        when the event certainly was not sent). An event never reported (see `flush`) has
        an unknown outcome. This default is synchronous: `produce`, then `on_ack` at once."""
        on_ack(self.produce(key, value, topic=topic, partition=partition))

    def poll(self, timeout_s: float = 0.0) -> int:
        """Deliver the answers that have arrived to their `on_ack` callbacks, waiting up to
        `timeout_s` for the first one; how many were delivered."""
        return 0

    def flush(self, timeout_s: float) -> int:
        """Wait up to `timeout_s` until every event sent with `produce_async` is answered
        (callbacks run); how many are still unanswered."""
        return 0

    @abc.abstractmethod
    def consume(
        self,
        group: str,
        consumer: str,
        *,
        topic: str | None = None,
        max_events: int = 100,
        timeout_s: float = 1.0,
    ) -> list[Event]:
        """Up to `max_events` events for `consumer` in consumer group `group` (waiting at most
        about `timeout_s` for the first), acknowledged to the group before they are returned:
        each event goes to one consumer of the group. A group that is new starts at the
        beginning of the log."""

    @abc.abstractmethod
    def replay(
        self, from_ms: int, to_ms: int | None = None, *, topic: str | None = None
    ) -> Iterator[Event]:
        """Events with from_ms <= timestamp < to_ms (to_ms None: up to the end of the log as it
        was when the replay started), in log order per partition, partition after partition."""

    @abc.abstractmethod
    def read_all(self, topic: str | None = None) -> Iterator[Event]:
        """Every event, in log order per partition, partition after partition."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections (and leave consumer groups)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
