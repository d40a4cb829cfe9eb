"""The Redis Streams implementation of EventBus (redis-py): a topic is one stream per
partition, `<topic>:<p>`, its partition count kept in the hash `gracectl:bus:topics`; writes go
to the master the Sentinels name, and consumer groups are XREADGROUP + XACK, with XAUTOCLAIM
taking over the pending entries of consumers idle longer than `claim_idle_ms` (dead ones).

Master discovery: redis-py's SentinelConnectionPool asks the Sentinels on every new
connection, and each call here first re-asks them (at most every FOLLOW_S) so that idle pooled
connections to a demoted master are dropped. Writes are never retried (a retried XADD could
land twice): a lost answer is an indeterminate Ack.
Blocking calls only (base.py): not for gevent greenlets.
"""

from __future__ import annotations

import contextlib
import logging
import time
import zlib
from collections.abc import Iterator
from typing import Any, cast

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, RedisError, ResponseError
from redis.retry import Retry
from redis.sentinel import Sentinel

from gracectl.bus.base import DEFAULT_TOPIC, Ack, Event, EventBus
from gracectl.errors import BusError, ConfigError

log = logging.getLogger(__name__)

TOPICS_KEY = "gracectl:bus:topics"
HINT = "is the stack up? `gracectl status` shows the Redis master and Sentinels"
PAGE = 1000
POLL_S = 0.05
#: How often (at most) to ask the Sentinels whether the master changed.
FOLLOW_S = 0.5
#: redis-py's SentinelManagedConnection turns a READONLY reply (a demoted master) into this
#: ConnectionError; the write was refused, so it is a failure, not an indeterminate write.
DEMOTED_MASTER = "previous master is now a slave"


def stream_name(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


def id_ms(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


def events_of(topic: str, partition: int, entries: object) -> list[Event]:
    """Events from a redis-py stream reply: [(id, fields), ...]; fields None = deleted."""
    pairs = cast(list[tuple[str, dict[str, str] | None]], entries or [])
    return [
        Event(topic, partition, i, id_ms(i), f.get("k", ""), f.get("v", ""))
        for i, f in pairs
        if f is not None
    ]


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    try:
        yield
    except RedisError as exc:
        raise BusError(f"redis: {what}: {exc}", hint=HINT) from exc


def socket_timeouts(timeout_s: float) -> dict[str, float]:
    return {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s}


def sentinel_client(sentinels: list[tuple[str, int]], timeout_s: float) -> Any:
    """A redis-py Sentinel over the stack's Sentinels (unannotated in redis-py, hence Any):
    `master_for(name, ...)` for a client that follows failovers, `discover_master(name)` for
    the current address."""
    return Sentinel(sentinels, sentinel_kwargs=socket_timeouts(timeout_s))  # type: ignore[no-untyped-call]


class RedisStreamsBus(EventBus):
    kind = "redis-streams"

    def __init__(
        self,
        sentinels: list[tuple[str, int]],
        master_name: str,
        password: str | None,
        *,
        topic: str = DEFAULT_TOPIC,
        socket_timeout_s: float = 2.0,
        claim_idle_ms: int = 30_000,
    ) -> None:
        super().__init__(topic)
        self.master_name = master_name
        self.socket_timeout_s = socket_timeout_s
        self.claim_idle_ms = claim_idle_ms
        sentinel = sentinel_client(sentinels, socket_timeout_s)
        options: dict[str, Any] = {
            "password": password,
            "decode_responses": True,
            "protocol": 2,
            **socket_timeouts(socket_timeout_s),
        }
        self._writer: redis.Redis = sentinel.master_for(
            master_name, retry=Retry(NoBackoff(), 0), **options
        )
        # Reads are safe to repeat: redis-py's default retries.
        self._client: redis.Redis = sentinel.master_for(master_name, **options)
        self._partitions: dict[str, int] = {}
        self._groups: set[tuple[str, str]] = set()
        self._turn = 0
        self._followed_at = -FOLLOW_S

    def _follow_master(self) -> None:
        """Pooled idle connections stay with the master they were opened to (even once it is
        demoted: reads still work there). Ask the Sentinels, at most every FOLLOW_S; the pool
        drops its idle connections when the answer changed."""
        if time.monotonic() - self._followed_at < FOLLOW_S:
            return
        for client in (self._writer, self._client):
            pool: Any = client.connection_pool
            pool.get_master_address()
        self._followed_at = time.monotonic()

    # -- topics ----------------------------------------------------------------------------
    def create_topic(self, name: str, partitions: int) -> None:
        with translated(f"creating topic {name!r}"):
            self._follow_master()
            if not self._client.hsetnx(TOPICS_KEY, name, partitions):
                existing = int(self._client.hget(TOPICS_KEY, name) or 0)
                if existing != partitions:
                    raise ConfigError(
                        f"redis: topic {name!r} exists with {existing} partitions, "
                        f"not {partitions}",
                        hint="use another topic name",
                    )
        self._partitions[name] = partitions
        log.info("Redis topic %s ready with %d partition stream(s).", name, partitions)

    def partitions(self, topic: str | None = None) -> int:
        name = self._topic(topic)
        if name not in self._partitions:
            with translated(f"looking up topic {name!r}"):
                count = self._client.hget(TOPICS_KEY, name)
            if count is None:
                raise BusError(
                    f"redis: no topic {name!r}", hint="create it first (EventBus.create_topic)"
                )
            self._partitions[name] = int(count)
        return self._partitions[name]

    # -- produce ---------------------------------------------------------------------------
    def produce(
        self,
        key: str,
        value: str,
        *,
        topic: str | None = None,
        partition: int | None = None,
        timeout_s: float | None = None,
    ) -> Ack:
        """XADD on the master; `timeout_s` is the socket timeout (fixed at open)."""
        name = self._topic(topic)
        try:
            count = self.partitions(name)
        except BusError as exc:
            return Ack("fail", error=exc.message)
        part = zlib.crc32(key.encode()) % count if partition is None else partition
        pool = self._writer.connection_pool
        try:
            self._follow_master()
            conn: Any = pool.get_connection()
        except RedisError as exc:  # nothing was sent
            return Ack("fail", partition=part, error=f"no connection to the master: {exc}")
        try:
            try:
                conn.send_command("XADD", stream_name(name, part), "*", "k", key, "v", value)
            except RedisError as exc:  # not all of the command went out: not executed
                conn.disconnect()
                return Ack("fail", partition=part, error=f"sending: {exc}")
            try:
                entry_id = str(conn.read_response())
            except ResponseError as exc:  # refused (READONLY, OOM, NOAUTH...)
                return Ack("fail", partition=part, error=str(exc))
            except ConnectionError as exc:
                conn.disconnect()
                if DEMOTED_MASTER in str(exc):
                    return Ack("fail", partition=part, error=str(exc))
                return Ack("indeterminate", partition=part, error=str(exc))
            except (RedisError, OSError) as exc:  # sent, answer lost (timeout)
                conn.disconnect()
                return Ack("indeterminate", partition=part, error=str(exc) or type(exc).__name__)
        finally:
            pool.release(conn)
        return Ack("ok", partition=part, offset=entry_id, timestamp_ms=id_ms(entry_id))

    # -- consumer groups -------------------------------------------------------------------
    def _ensure_group(self, group: str, streams: list[str]) -> None:
        for stream in streams:
            if (group, stream) in self._groups:
                continue
            try:
                self._client.xgroup_create(stream, group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            self._groups.add((group, stream))

    def consume(
        self,
        group: str,
        consumer: str,
        *,
        topic: str | None = None,
        max_events: int = 100,
        timeout_s: float = 1.0,
    ) -> list[Event]:
        name = self._topic(topic)
        streams = [stream_name(name, p) for p in range(self.partitions(name))]
        with translated(f"consuming as {group}/{consumer}"):
            self._follow_master()
            self._ensure_group(group, streams)
            try:
                events = self._claim_stale(group, consumer, name, streams, max_events)
                # XREADGROUP's COUNT is per stream: read one stream at a time to honour
                # max_events, and poll (every POLL_S) instead of BLOCK until timeout_s.
                deadline = time.monotonic() + timeout_s
                while len(events) < max_events:
                    wanted = max_events - len(events)
                    events += self._read_new(group, consumer, name, streams, wanted)
                    if events or time.monotonic() >= deadline:
                        break
                    time.sleep(POLL_S)
            except ResponseError as exc:
                if "NOGROUP" in str(exc):  # lost in a failover: the next call recreates it
                    self._groups = {g for g in self._groups if g[0] != group}
                raise
        if not events:
            return []
        try:
            pipe = self._client.pipeline(transaction=False)
            for part in {e.partition for e in events}:
                ids = [e.offset for e in events if e.partition == part]
                pipe.xack(stream_name(name, part), group, *ids)
            pipe.execute()
        except RedisError as exc:
            # Still pending: XAUTOCLAIM hands them out again after claim_idle_ms.
            log.warning(
                "Redis XACK for %s/%s failed (%s); not returning them.", group, consumer, exc
            )
            return []
        return events

    def _read_new(
        self, group: str, consumer: str, topic: str, streams: list[str], wanted: int
    ) -> list[Event]:
        """Up to `wanted` never-delivered entries, starting at a rotating partition."""
        self._turn = (self._turn + 1) % len(streams)
        events: list[Event] = []
        for part in [*range(self._turn, len(streams)), *range(self._turn)]:
            if len(events) >= wanted:
                break
            reply = self._client.xreadgroup(
                group, consumer, {streams[part]: ">"}, count=wanted - len(events)
            )
            for _, entries in cast(list[tuple[str, Any]], reply or []):
                events += events_of(topic, part, entries)
        return events

    def _claim_stale(
        self, group: str, consumer: str, topic: str, streams: list[str], max_events: int
    ) -> list[Event]:
        """Pending entries idle longer than claim_idle_ms (their consumer died) become ours."""
        events: list[Event] = []
        for part, stream in enumerate(streams):
            if len(events) >= max_events:
                break
            reply = self._client.xautoclaim(
                stream, group, consumer, self.claim_idle_ms, "0-0", count=max_events - len(events)
            )
            events += events_of(topic, part, reply[1])
        if events:
            log.info("Redis consumer %s/%s claimed %d stale entries.", group, consumer, len(events))
        return events

    # -- reading the log -------------------------------------------------------------------
    def _read(self, topic: str, start: str, end: str | None) -> Iterator[Event]:
        """XRANGE per partition from `start`; end None: the last entry as of now."""
        streams = [stream_name(topic, p) for p in range(self.partitions(topic))]
        with translated(f"reading topic {topic!r}"):
            self._follow_master()
            ends: list[str | None] = []
            for stream in streams:
                if end is not None:
                    ends.append(end)
                    continue
                last = self._client.xrevrange(stream, "+", "-", count=1)
                ends.append(str(last[0][0]) if last else None)
        return self._pages(topic, streams, start, ends)

    def _pages(
        self, topic: str, streams: list[str], start: str, ends: list[str | None]
    ) -> Iterator[Event]:
        for part, (stream, end) in enumerate(zip(streams, ends, strict=True)):
            cursor = start
            while end is not None:
                with translated(f"reading {stream}"):
                    page = events_of(
                        topic, part, self._client.xrange(stream, cursor, end, count=PAGE)
                    )
                yield from page
                if len(page) < PAGE:
                    break
                cursor = "(" + page[-1].offset

    def replay(
        self, from_ms: int, to_ms: int | None = None, *, topic: str | None = None
    ) -> Iterator[Event]:
        end = None if to_ms is None else f"({to_ms}-0"
        return self._read(self._topic(topic), f"{from_ms}-0", end)

    def read_all(self, topic: str | None = None) -> Iterator[Event]:
        return self._read(self._topic(topic), "-", None)

    def close(self) -> None:
        for client in (self._writer, self._client):
            client.connection_pool.disconnect()
