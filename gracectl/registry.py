"""The infrastructure kinds gracectl runs, in start order.

The event bus (Kafka KRaft or Redis Streams) joins this list as its own module.
"""

from __future__ import annotations

from gracectl.components.base import Component
from gracectl.components.etcd import Etcd
from gracectl.components.haproxy import HAProxy
from gracectl.components.postgres import Postgres
from gracectl.components.redis import Redis, Sentinel


def components() -> list[Component]:
    kinds: list[Component] = [Etcd(), Postgres(), HAProxy(), Redis(), Sentinel()]
    return sorted(kinds, key=lambda c: c.tier)
