"""What an event-workload event looks like on the bus, and reading it back: the payload
(producer, seq, key as JSON), the partition names histories use, the JSON-lines files of a
run, and reads of the log (`stored_event_read`, the final read `final_event_read`) for the checkers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from gracectl.bus import Event, open_bus
from gracectl.config import Settings
from gracectl.history import EventOp, EventRead, StoredEvent, read_event_history

log = logging.getLogger(__name__)


class EventPayload(BaseModel):
    """The value of every event the workload produces: who sent it, its number, its key."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    producer: str
    seq: int
    key: str

    def to_json(self, size: int = 0) -> str:
        """The JSON text; with `size`, padded (a "pad" field) to that many bytes when there is
        room for the field."""
        text = self.model_dump_json()
        room = size - len(text) - len(',"pad":""')
        return text if room < 0 else f'{text[:-1]},"pad":"{"x" * room}"}}'


def parse_payload(value: str) -> EventPayload | None:
    """The payload of an event value, or None for a value the workload did not write."""
    try:
        return EventPayload.model_validate(json.loads(value))
    except (ValueError, ValidationError):
        return None


def partition_label(topic: str, partition: int) -> str:
    """How histories and reads name a partition: "topic/partition", whichever the bus (so a
    read of bare Events, which do not say their bus, names them as the ops did)."""
    return f"{topic}/{partition}"


def stored_event(event: Event) -> StoredEvent | None:
    payload = parse_payload(event.value)
    if payload is None:
        return None
    return StoredEvent(
        key=event.key,
        seq=payload.seq,
        producer=payload.producer,
        offset=event.offset,
        timestamp_ms=event.timestamp_ms,
    )


def stored_event_read(events: Iterable[Event], partitions: Iterable[str] = ()) -> EventRead:
    """Events (bus.read_all or bus.replay: per partition in log order) parsed back into an
    EventRead; `partitions` are named even if empty. Values the workload did not write are
    skipped (and counted in the log)."""
    found: dict[str, list[StoredEvent]] = {name: [] for name in partitions}
    foreign = 0
    for event in events:
        stored = stored_event(event)
        if stored is None:
            foreign += 1
            continue
        found.setdefault(partition_label(event.topic, event.partition), []).append(stored)
    if foreign:
        log.warning("skipped %d event(s) not written by an event workload", foreign)
    return EventRead(partitions={name: tuple(stored) for name, stored in found.items()})


def final_event_read(source: Settings | Mapping[str, str], topic: str) -> EventRead:
    """Every event of `topic`, per partition in log order (bus.read_all), as an EventRead;
    partitions with no event are present and empty."""
    with open_bus(source, topic=topic) as bus:
        names = [partition_label(topic, p) for p in range(bus.partitions(topic))]
        read = stored_event_read(bus.read_all(topic), names)
        kind = bus.kind
    total = sum(len(events) for events in read.partitions.values())
    log.info(
        "final read of %s (%s): %d events in %d partitions",
        topic, kind, total, len(read.partitions),
    )  # fmt: skip
    return read


def history_files(history_dir: Path) -> tuple[Path, ...]:
    """The JSON-lines files of a run: one per producer and per consumer."""
    return tuple(sorted(p for p in history_dir.glob("*.jsonl") if p.is_file()))


def read_event_ops(history_dir: Path) -> Iterator[EventOp]:
    """Every produce and consume op of a run, file after file (streamed)."""
    for path in history_files(history_dir):
        yield from read_event_history(path)
