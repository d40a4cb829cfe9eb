"""The infrastructure kinds gracectl runs, in start order.

Kafka has nodes (and so programs) only when the event bus is Kafka.
"""

from __future__ import annotations

from gracectl.components.base import Component
from gracectl.components.etcd import Etcd
from gracectl.components.haproxy import HAProxy
from gracectl.components.kafka import Kafka
from gracectl.components.postgres import Postgres
from gracectl.components.redis import Redis, Sentinel


def components() -> list[Component]:
    kinds: list[Component] = [Etcd(), Postgres(), HAProxy(), Redis(), Sentinel(), Kafka()]
    return sorted(kinds, key=lambda c: c.tier)
