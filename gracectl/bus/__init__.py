"""The event-bus client: one interface (base.EventBus) over Kafka and Redis Streams, and
open_bus to get the running stack's. Blocking I/O: not for gevent greenlets (see base.py)."""

from gracectl.bus.base import DEFAULT_TOPIC, Ack, AckStatus, Event, EventBus
from gracectl.bus.factory import open_bus
from gracectl.bus.timestamps import format_ms, parse_timestamp_ms

__all__ = [
    "DEFAULT_TOPIC",
    "Ack",
    "AckStatus",
    "Event",
    "EventBus",
    "format_ms",
    "open_bus",
    "parse_timestamp_ms",
]
