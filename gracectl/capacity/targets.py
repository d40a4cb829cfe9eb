"""What each capacity component measures and what it needs first: the endpoint (named
without passwords), the tables it writes or reads (created, seeded, dropped here), the
Redis master the Sentinels name, the safety check on an HTTP target, and why a component
cannot run at all (then it is `inconclusive` with that reason, not an error)."""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from gracectl.capacity.locust_step import CapacityError
from gracectl.capacity.model import CapacityComponent
from gracectl.config import Settings
from gracectl.errors import ConfigError
from gracectl.waiting import wait_until

log = logging.getLogger(__name__)

WRITE_TABLE = "gracectl_capacity_writes"
READ_TABLE = "gracectl_capacity_reads"
READ_ROWS = 10_000
_CONNECT_TIMEOUT_S = 5
_SEED_VISIBLE_TIMEOUT_S = 30.0
_TARGET_HINT = "load goes only to loopback targets; --allow-remote-target to opt in"


# -- the HTTP target ---------------------------------------------------------------------------
def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        resolved = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(resolved) and all(ipaddress.ip_address(str(a)).is_loopback for a in resolved)


def check_http_target(url: str, allow_remote: bool = False) -> str:
    """The target URL if it is http(s) with a host, and loopback unless `allow_remote`
    (load is for our own endpoints, never someone else's by accident)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--target {url!r}: not an http(s) URL",
                          hint="e.g. --target http://127.0.0.1:8080/health")  # fmt: skip
    try:
        parts.port  # noqa: B018 - urlsplit validates the port only when asked
    except ValueError as exc:
        raise ConfigError(f"--target {url!r}: {exc}", hint="e.g. http://127.0.0.1:8080/") from exc
    if not allow_remote and not _is_loopback(parts.hostname):
        raise ConfigError(f"--target {url!r}: {parts.hostname} is not a loopback address",
                          hint=_TARGET_HINT)  # fmt: skip
    return url


# -- why a component cannot run ----------------------------------------------------------------
def missing_prerequisite(
    component: CapacityComponent, settings: Settings, target: str | None
) -> str | None:
    """The reason a component cannot be measured here, or None."""
    if component == "http" and not target:
        return "no --target given: the http component needs a Grace endpoint URL"
    if component == "kafka" and settings.bus != "kafka":
        return (f"needs the Kafka bus; this stack runs {settings.bus} "
                "(bring it up with GRACECTL_BUS=kafka)")  # fmt: skip
    return None


def describe_target(
    component: CapacityComponent, env: Mapping[str, str], target: str | None
) -> str:
    """The endpoint measured, without credentials."""

    def where(dsn_name: str) -> str:
        dsn = env.get(dsn_name, "")
        return dsn.rpartition("@")[2] if dsn else "-"

    if component == "postgres-write":
        return f"PostgreSQL rw {where('GRACE_PG_RW_DSN')}"
    if component == "postgres-read":
        return f"PostgreSQL ro {where('GRACE_PG_RO_DSN')}"
    if component == "redis":
        return (f"Redis master {env.get('GRACE_REDIS_MASTER_NAME', '?')} via Sentinels "
                f"{env.get('GRACE_REDIS_SENTINELS', '-')}")  # fmt: skip
    if component == "kafka":
        return f"Kafka {env.get('GRACE_KAFKA_BOOTSTRAP', '-')}"
    return target or "-"


# -- PostgreSQL tables -------------------------------------------------------------------------
def _connect(dsn: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise CapacityError(f"capacity: cannot connect to PostgreSQL: {exc}",
                            hint="is the stack up? `gracectl status`") from exc  # fmt: skip


def prepare_write_table(rw_dsn: str, table: str = WRITE_TABLE) -> None:
    """An empty table for single-row INSERTs (id from a sequence, like pgbench's script)."""
    create = sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} "
        "(id bigserial PRIMARY KEY, payload text, at timestamptz DEFAULT now())"
    ).format(sql.Identifier(table))
    with _connect(rw_dsn) as conn:
        try:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
            conn.execute(create)
        except psycopg.Error as exc:
            raise CapacityError(f"capacity: cannot create {table}: {exc}") from exc


def seed_read_table(
    rw_dsn: str, ro_dsn: str, rows: int = READ_ROWS, table: str = READ_TABLE
) -> None:
    """`rows` rows with ids 1..rows, then wait until the read-only endpoint sees them all
    (a replica that lags would turn reads into misses)."""
    ident = sql.Identifier(table)
    with _connect(rw_dsn) as conn:
        try:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))
            conn.execute(sql.SQL("CREATE TABLE {} (id integer PRIMARY KEY, payload text)")
                         .format(ident))  # fmt: skip
            conn.execute(
                sql.SQL("INSERT INTO {} SELECT g, md5(g::text) FROM generate_series(1, %s) g")
                .format(ident), (rows,),
            )  # fmt: skip
        except psycopg.Error as exc:
            raise CapacityError(f"capacity: cannot seed {table}: {exc}") from exc
    count = sql.SQL("SELECT count(*) FROM {}").format(ident)

    def visible() -> bool:
        try:
            with _connect(ro_dsn) as ro:
                row = ro.execute(count).fetchone()
        except (psycopg.Error, CapacityError):
            return False
        return row is not None and row[0] == rows

    if not wait_until(visible, _SEED_VISIBLE_TIMEOUT_S, interval_s=0.5):
        raise CapacityError(f"capacity: the read-only endpoint does not show {rows} rows of "
                            f"{table} after {_SEED_VISIBLE_TIMEOUT_S:g} s",
                            hint="is a replica streaming? `gracectl status`")  # fmt: skip


def drop_table(rw_dsn: str, table: str) -> None:
    """Best effort: a leftover table only costs disk."""
    try:
        with _connect(rw_dsn) as conn:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
    except (psycopg.Error, CapacityError) as exc:
        log.warning("could not drop %s: %s", table, exc)
