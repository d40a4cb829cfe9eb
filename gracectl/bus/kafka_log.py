"""Reading a Kafka topic's log by offset ranges for KafkaBus: the ranges come from the
watermarks (captured once, at the start) and offsets_for_times, and each partition is read
to its range's end with an assigned, group-less consumer. Also the Message -> Event
conversion and the KafkaException -> BusError translation the bus shares.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from gracectl.bus.base import Event
from gracectl.errors import BusError

HINT = "is the stack up with bus = kafka? `gracectl status` shows the brokers"
OFFSETS_TIMEOUT_S = 30.0
#: A read that gets nothing for this long before the end of its range gives up.
READ_STALL_S = 30.0


def bus_error(what: str, exc: KafkaException) -> BusError:
    return BusError(f"kafka: {what}: {exc.args[0] if exc.args else exc}", hint=HINT)


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")


def to_event(msg: Message) -> Event:
    return Event(
        topic=msg.topic() or "",
        partition=msg.partition() or 0,
        offset=str(msg.offset()),
        timestamp_ms=msg.timestamp()[1],
        key=_text(msg.key()),
        value=_text(msg.value()),
    )


def _offsets_at(reader: Consumer, topic: str, ms: int, ends: list[int]) -> list[int]:
    """Per partition, the first offset with a timestamp >= ms (the end if there is none)."""
    found = reader.offsets_for_times(
        [TopicPartition(topic, p, ms) for p in range(len(ends))], timeout=OFFSETS_TIMEOUT_S
    )
    return [
        min(tp.offset, ends[tp.partition]) if tp.offset >= 0 else ends[tp.partition] for tp in found
    ]


def offset_ranges(
    reader: Consumer, topic: str, partitions: int, from_ms: int | None, to_ms: int | None
) -> list[tuple[int, int]]:
    """Per partition, the offsets [start, end) to read; without to_ms, end is the high
    watermark now (events produced during the read are not waited for)."""
    try:
        marks = [
            reader.get_watermark_offsets(TopicPartition(topic, p), timeout=OFFSETS_TIMEOUT_S)
            for p in range(partitions)
        ]
        starts = [low for low, _ in marks]
        ends = [high for _, high in marks]
        if from_ms is not None:
            starts = _offsets_at(reader, topic, from_ms, ends)
        if to_ms is not None:
            ends = _offsets_at(reader, topic, to_ms, ends)
    except KafkaException as exc:
        raise bus_error(f"reading the offsets of {topic!r}", exc) from exc
    return list(zip(starts, ends, strict=True))


def read_partition(
    reader: Consumer, topic: str, partition: int, start: int, end: int
) -> Iterator[Event]:
    if start >= end:
        return
    reader.assign([TopicPartition(topic, partition, start)])
    last_progress = time.monotonic()
    next_offset = start
    try:
        while time.monotonic() - last_progress < READ_STALL_S:
            # consume() waits until it has this many or the timeout: ask for what is left.
            for msg in reader.consume(max(1, min(500, end - next_offset)), 1.0):
                err = msg.error()
                offset = msg.offset() or 0
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF and offset >= end:
                        return
                    if err.fatal():
                        raise BusError(f"kafka: reading {topic}[{partition}]: {err.str()}")
                    continue
                last_progress = time.monotonic()
                next_offset = offset + 1
                if offset >= end:
                    return
                yield to_event(msg)
                if offset >= end - 1:
                    return
    except KafkaException as exc:
        raise bus_error(f"reading {topic}[{partition}]", exc) from exc
    finally:
        reader.unassign()
    raise BusError(f"kafka: reading {topic}[{partition}] stalled before offset {end}", hint=HINT)


def read_log(
    make_reader: Callable[[], Consumer],
    topic: str,
    partitions: int,
    from_ms: int | None,
    to_ms: int | None,
) -> Iterator[Event]:
    """Events with from_ms <= timestamp < to_ms (None: unbounded), partition after partition.
    The timestamp filter also drops records whose producer clock went backwards."""
    reader = make_reader()
    try:
        ranges = offset_ranges(reader, topic, partitions, from_ms, to_ms)
        for partition, (start, end) in enumerate(ranges):
            for event in read_partition(reader, topic, partition, start, end):
                if from_ms is not None and event.timestamp_ms < from_ms:
                    continue
                if to_ms is not None and event.timestamp_ms >= to_ms:
                    continue
                yield event
    finally:
        reader.close()
