"""The Kafka implementation of EventBus (confluent-kafka): topics with the cluster's
replication factor and min.insync.replicas, acks=all produce with delivery reports, consumer
groups with synchronous commits, and replay by time from offsets_for_times.

Blocking calls only (poll/flush/consume): never use this from gevent greenlets (base.py).
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from gracectl.bus.base import DEFAULT_TOPIC, Ack, Event, EventBus
from gracectl.bus.kafka_log import HINT, bus_error, read_log, to_event
from gracectl.errors import BusError, ConfigError
from gracectl.waiting import wait_until

log = logging.getLogger(__name__)

ADMIN_TIMEOUT_S = 30.0

#: Errors that mean the broker certainly did not append the record; any other error after
#: sending (timeouts, lost connections, NOT_ENOUGH_REPLICAS_AFTER_APPEND) is indeterminate.
DEFINITE_FAILURES = frozenset(
    {
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.INVALID_RECORD,
        KafkaError.INVALID_REQUIRED_ACKS,
        KafkaError._PURGE_QUEUE,
        KafkaError._INVALID_ARG,
    }
)
#: Commit failures caused by a rebalance: the partitions now belong to another consumer.
REBALANCE_ERRORS = frozenset(
    {KafkaError.ILLEGAL_GENERATION, KafkaError.REBALANCE_IN_PROGRESS, KafkaError.UNKNOWN_MEMBER_ID}
)


def ack_status(err: KafkaError) -> str:
    return "fail" if err.code() in DEFINITE_FAILURES else "indeterminate"


def delivery_ack(err: KafkaError | None, msg: Message) -> Ack:
    """The Ack of one delivery report."""
    if err is not None:
        status = ack_status(err)
        return Ack("fail" if status == "fail" else "indeterminate", error=err.str())
    return Ack(
        "ok", partition=msg.partition(), offset=str(msg.offset()), timestamp_ms=msg.timestamp()[1]
    )


class KafkaBus(EventBus):
    kind = "kafka"

    def __init__(
        self,
        bootstrap: str,
        *,
        topic: str = DEFAULT_TOPIC,
        replication_factor: int | None = None,
        min_insync_replicas: int | None = None,
        enable_idempotence: bool = True,
        delivery_timeout_ms: int = 30_000,
        linger_ms: int = 0,
    ) -> None:
        """`replication_factor` / `min_insync_replicas` None: the brokers' defaults.
        `linger_ms`: how long the producer holds events to batch them (0 suits `produce`,
        which waits for each event; `produce_async` at high rates wants a few ms)."""
        super().__init__(topic)
        self.bootstrap = bootstrap
        self.replication_factor = replication_factor
        self.min_insync_replicas = min_insync_replicas
        self.enable_idempotence = enable_idempotence
        self.delivery_timeout_ms = delivery_timeout_ms
        self.linger_ms = linger_ms
        self._admin: AdminClient | None = None
        self._producer: Producer | None = None
        self._members: dict[tuple[str, str, str], Consumer] = {}

    def _config(self, **extra: Any) -> dict[str, Any]:
        return {"bootstrap.servers": self.bootstrap, "logger": log, **extra}

    def _admin_client(self) -> AdminClient:
        if self._admin is None:
            self._admin = AdminClient(self._config())
        return self._admin

    # -- topics ----------------------------------------------------------------------------
    def delete_topic(self, name: str) -> None:
        """Delete a topic gracectl made for a measurement (its replicas cost every broker
        CPU for as long as it exists); one that is already gone is fine."""
        futures = self._admin_client().delete_topics([name], operation_timeout=ADMIN_TIMEOUT_S)
        try:
            futures[name].result(timeout=ADMIN_TIMEOUT_S * 2)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise bus_error(f"deleting topic {name!r}", exc) from exc

    def create_topic(self, name: str, partitions: int) -> None:
        config = {}
        if self.min_insync_replicas is not None:
            config["min.insync.replicas"] = str(self.min_insync_replicas)
        new = NewTopic(
            name,
            num_partitions=partitions,
            replication_factor=self.replication_factor or -1,
            config=config,
        )
        futures = self._admin_client().create_topics([new], operation_timeout=ADMIN_TIMEOUT_S)
        try:
            futures[name].result(timeout=ADMIN_TIMEOUT_S * 2)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise bus_error(f"creating topic {name!r}", exc) from exc
            existing = self.partitions(name)
            if existing != partitions:
                raise ConfigError(
                    f"kafka: topic {name!r} exists with {existing} partitions, not {partitions}",
                    hint="use another topic name or delete the topic",
                ) from exc
        if not wait_until(lambda: self._all_led(name, partitions), ADMIN_TIMEOUT_S, 0.2):
            raise BusError(f"kafka: topic {name!r} has partitions without a leader", hint=HINT)
        log.info("Kafka topic %s ready with %d partition(s).", name, partitions)

    def _all_led(self, name: str, partitions: int) -> bool:
        described = self._metadata(name)
        return (
            described is not None
            and len(described.partitions) == partitions
            and all(p.leader >= 0 for p in described.partitions.values())
        )

    def _metadata(self, topic: str) -> Any | None:
        """The topic's metadata, None if the brokers do not know it (yet)."""
        try:
            found = self._admin_client().list_topics(topic, timeout=ADMIN_TIMEOUT_S)
        except KafkaException as exc:
            raise bus_error("listing topics", exc) from exc
        described = found.topics.get(topic)
        return None if described is None or described.error is not None else described

    def partitions(self, topic: str | None = None) -> int:
        name = self._topic(topic)
        described = self._metadata(name)
        if described is None:
            raise BusError(
                f"kafka: no topic {name!r}", hint="create it first (EventBus.create_topic)"
            )
        return len(described.partitions)

    # -- produce ---------------------------------------------------------------------------
    def _producer_client(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(
                self._config(
                    **{
                        "acks": "all",
                        "enable.idempotence": self.enable_idempotence,
                        "delivery.timeout.ms": self.delivery_timeout_ms,
                        "request.timeout.ms": min(30_000, self.delivery_timeout_ms),
                        "linger.ms": self.linger_ms,
                    }
                )
            )
        return self._producer

    def produce(
        self,
        key: str,
        value: str,
        *,
        topic: str | None = None,
        partition: int | None = None,
        timeout_s: float | None = None,
    ) -> Ack:
        producer = self._producer_client()
        reports: list[tuple[KafkaError | None, Message]] = []
        not_sent = self._queue(producer, key, value, topic, partition,
                               lambda err, msg: reports.append((err, msg)))  # fmt: skip
        if not_sent is not None:
            return not_sent
        wait_s = self.delivery_timeout_ms / 1000 + 5 if timeout_s is None else timeout_s
        deadline = time.monotonic() + wait_s
        while not reports and (remaining := deadline - time.monotonic()) > 0:
            producer.poll(min(remaining, 0.5))
        if not reports:  # still queued or in flight: it may land later
            return Ack("indeterminate", error=f"no delivery report within {wait_s:.1f} s")
        return delivery_ack(*reports[0])

    def produce_async(
        self,
        key: str,
        value: str,
        on_ack: Callable[[Ack], None],
        *,
        topic: str | None = None,
        partition: int | None = None,
    ) -> None:
        """Queue the event in librdkafka; its delivery report (acks=all, after librdkafka's
        own retries, up to delivery_timeout_ms) reaches `on_ack` from `poll` or `flush`."""
        producer = self._producer_client()
        not_sent = self._queue(producer, key, value, topic, partition,
                               lambda err, msg: on_ack(delivery_ack(err, msg)))  # fmt: skip
        if not_sent is not None:
            on_ack(not_sent)

    def _queue(
        self,
        producer: Producer,
        key: str,
        value: str,
        topic: str | None,
        partition: int | None,
        on_delivery: Callable[[KafkaError | None, Message], None],
    ) -> Ack | None:
        """Hand one event to librdkafka (its delivery report goes to `on_delivery`); a `fail`
        Ack when it certainly was not sent, None once it is queued."""
        try:
            producer.produce(
                self._topic(topic),
                value=value.encode(),
                key=key.encode(),
                partition=-1 if partition is None else partition,
                on_delivery=on_delivery,
            )
        except BufferError as exc:  # nothing was sent
            return Ack("fail", error=f"local queue full: {exc}")
        except KafkaException as exc:
            return Ack("fail", error=str(exc.args[0] if exc.args else exc))
        return None

    def poll(self, timeout_s: float = 0.0) -> int:
        if self._producer is None:
            return 0
        return int(self._producer.poll(timeout_s))

    def flush(self, timeout_s: float) -> int:
        if self._producer is None:
            return 0
        return int(self._producer.flush(timeout_s))

    # -- consumer groups -------------------------------------------------------------------
    def _member(self, group: str, consumer: str, topic: str) -> Consumer:
        member = self._members.get((group, consumer, topic))
        if member is None:
            member = Consumer(
                self._config(
                    **{
                        "group.id": group,
                        "client.id": consumer,
                        "enable.auto.commit": False,
                        "auto.offset.reset": "earliest",
                        "partition.assignment.strategy": "cooperative-sticky",
                        # A dead member's partitions move after 10 s (default 45 s); live
                        # members learn of a rebalance within a second (default 3 s).
                        "session.timeout.ms": 10_000,
                        "heartbeat.interval.ms": 1_000,
                    }
                )
            )
            member.subscribe([topic])
            self._members[(group, consumer, topic)] = member
        return member

    def consume(
        self,
        group: str,
        consumer: str,
        *,
        topic: str | None = None,
        max_events: int = 100,
        timeout_s: float = 1.0,
    ) -> list[Event]:
        member = self._member(group, consumer, self._topic(topic))
        try:
            messages = member.consume(max_events, timeout_s)
        except KafkaException as exc:
            raise bus_error(f"consuming as {group}/{consumer}", exc) from exc
        events: list[Event] = []
        first: dict[tuple[str, int], int] = {}
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.fatal():
                    raise BusError(f"kafka: consumer {group}/{consumer}: {err.str()}", hint=HINT)
                log.info("Kafka consumer %s/%s: %s", group, consumer, err.str())
                continue
            event = to_event(msg)
            first.setdefault((event.topic, event.partition), int(event.offset))
            events.append(event)
        if not events:
            return []
        next_offsets = {(e.topic, e.partition): int(e.offset) + 1 for e in events}
        try:
            member.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in next_offsets.items()],
                asynchronous=False,
            )
        except KafkaException as exc:
            # Not acknowledged: rewind, so they are delivered again (here or, after a
            # rebalance, to the partitions' new owner), and return nothing.
            code = exc.args[0].code() if exc.args else None
            level = logging.INFO if code in REBALANCE_ERRORS else logging.WARNING
            log.log(level, "Kafka commit of %s/%s failed (%s); rewinding.", group, consumer, exc)
            for (t, p), offset in first.items():
                # One no longer assigned to us: its new owner starts at the commit.
                with contextlib.suppress(KafkaException):
                    member.seek(TopicPartition(t, p, offset))
            return []
        return events

    def _reader(self) -> Consumer:
        """A consumer that only assigns (no group membership, no commits)."""
        return Consumer(
            self._config(
                **{
                    "group.id": f"gracectl-reader-{uuid.uuid4().hex[:12]}",
                    "enable.auto.commit": False,
                    "enable.partition.eof": True,
                    "auto.offset.reset": "earliest",
                }
            )
        )

    def replay(
        self, from_ms: int, to_ms: int | None = None, *, topic: str | None = None
    ) -> Iterator[Event]:
        name = self._topic(topic)
        return read_log(self._reader, name, self.partitions(name), from_ms, to_ms)

    def read_all(self, topic: str | None = None) -> Iterator[Event]:
        name = self._topic(topic)
        return read_log(self._reader, name, self.partitions(name), None, None)

    def close(self) -> None:
        for member in self._members.values():
            try:
                member.close()
            except (KafkaException, RuntimeError) as exc:
                log.info("closing a Kafka consumer: %s", exc)
        self._members.clear()
        if self._producer is not None:
            left = self._producer.flush(5.0)
            if left:
                log.warning("%d Kafka message(s) still undelivered at close.", left)
            self._producer = None
