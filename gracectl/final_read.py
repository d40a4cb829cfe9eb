"""The final read of a chaos run: every id the run wrote, from the leader and from each
replica once it has caught up, each node reached directly on its own port."""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from gracectl import stack
from gracectl.config import Settings
from gracectl.history import FinalRead
from gracectl.status import ComponentStatus, StackStatus
from gracectl.waiting import wait_until
from gracectl.workload import DEFAULT_TABLE, ENV_ADMIN_DSN, ID_RUN_SHIFT, WorkloadError

log = logging.getLogger(__name__)
_CONNECT_TIMEOUT_S = 5


def final_read(
    settings: Settings,
    table: str = DEFAULT_TABLE,
    catch_up_timeout_s: float = 30.0,
    run_number: int | None = None,
) -> FinalRead:
    """`final_read_at` for the stack under `settings.home` (its status and superuser)."""
    admin_dsn = stack.connection_env(settings)[ENV_ADMIN_DSN]
    return final_read_at(
        stack.status(settings), admin_dsn, table, catch_up_timeout_s, run_number
    )


def _lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def _node_conninfo(admin_dsn: str, node: ComponentStatus) -> str:
    host, port = node.endpoint.rsplit(":", 1)
    return make_conninfo(admin_dsn, host=host, port=port, connect_timeout=_CONNECT_TIMEOUT_S)


def _query_one(conninfo: str, query: str) -> Any:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(query).fetchone()
    return row[0] if row else None


def run_id_range(run_number: int) -> tuple[int, int]:
    """The ids one run can write: its run number in the top bits."""
    return run_number << ID_RUN_SHIFT, (run_number + 1) << ID_RUN_SHIFT


def _read_ids(
    conninfo: str, table: str, node: str, id_range: tuple[int, int] | None = None
) -> frozenset[int]:
    query = sql.SQL("SELECT id FROM {}").format(sql.Identifier(table))
    params: tuple[int, ...] = ()
    if id_range is not None:
        query = query + sql.SQL(" WHERE id >= %s AND id < %s")
        params = id_range
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            ids = [int(row[0]) for row in conn.execute(query, params)]
    except psycopg.errors.UndefinedTable:
        log.warning("%s: table %s does not exist: no ids", node, table)
        return frozenset()
    found = frozenset(ids)
    # The primary key makes duplicate ids impossible by construction; this only guards
    # against someone running the workload on a table created without it.
    if len(found) != len(ids):
        log.error("%s: %d duplicate id(s) in %s", node, len(ids) - len(found), table)
    return found


def final_read_at(
    status: StackStatus,
    admin_dsn: str,
    table: str = DEFAULT_TABLE,
    catch_up_timeout_s: float = 30.0,
    run_number: int | None = None,
) -> FinalRead:
    """Every id in `table` (of run `run_number` only, when given: earlier runs' rows are not
    this history's business) on the leader, and on each replica once its replay LSN has reached
    the leader's current LSN (waiting at most `catch_up_timeout_s`).

    Each node is reached on its own port from `status` (not through HAProxy) as the
    superuser of `admin_dsn`. The leader is the node not in recovery (the status role only
    breaks ties). A replica that does not catch up in time, or cannot be reached, is left out
    of `replica_ids` with a warning: its ids would be a lag, not a loss.
    """
    nodes = [c for c in status.by_kind("postgres") if c.state == "running"]
    primaries: list[ComponentStatus] = []
    standbys: list[ComponentStatus] = []
    for node in nodes:
        try:
            in_recovery = _query_one(_node_conninfo(admin_dsn, node), "SELECT pg_is_in_recovery()")
        except psycopg.Error as exc:
            log.warning("%s: unreachable for the final read: %s", node.name, exc)
            continue
        (standbys if in_recovery else primaries).append(node)
    if not primaries:
        raise WorkloadError(
            "final read: no PostgreSQL node is out of recovery (no leader)",
            hint="`gracectl status`; wait for Patroni to elect a leader",
        )
    primaries.sort(key=lambda n: n.role != "leader")
    leader, *other_primaries = primaries
    for extra in other_primaries:
        log.error("final read: %s is also out of recovery (split brain?)", extra.name)
    leader_info = _node_conninfo(admin_dsn, leader)
    target = _lsn(str(_query_one(leader_info, "SELECT pg_current_wal_lsn()")))
    id_range = None if run_number is None else run_id_range(run_number)
    leader_ids = _read_ids(leader_info, table, leader.name, id_range)
    log.info("final read: %s (leader) has %d ids at LSN %X", leader.name, len(leader_ids), target)

    replica_ids: dict[str, frozenset[int]] = {}
    for node in [*other_primaries, *standbys]:
        info = _node_conninfo(admin_dsn, node)
        if node in standbys and not _caught_up(node.name, info, target, catch_up_timeout_s):
            continue
        try:
            replica_ids[node.name] = _read_ids(info, table, node.name, id_range)
        except psycopg.Error as exc:
            log.warning("%s: final read failed: %s", node.name, exc)
            continue
        log.info("final read: %s has %d ids", node.name, len(replica_ids[node.name]))
    return FinalRead(leader=leader.name, leader_ids=leader_ids, replica_ids=replica_ids)


def _caught_up(name: str, conninfo: str, target: int, timeout_s: float) -> bool:
    last: list[int | None] = [None]

    def replayed() -> bool:
        try:
            lsn = _query_one(conninfo, "SELECT pg_last_wal_replay_lsn()")
        except psycopg.Error as exc:
            log.debug("%s: replay LSN not readable: %s", name, exc)
            return False
        last[0] = _lsn(str(lsn)) if lsn is not None else None
        return last[0] is not None and last[0] >= target

    started = time.monotonic()
    if wait_until(replayed, timeout_s, interval_s=0.2):
        log.info("%s caught up in %.1f s", name, time.monotonic() - started)
        return True
    behind = "unknown" if last[0] is None else f"{target - last[0]} bytes"
    log.warning(
        "%s did not replay up to the leader's LSN in %.0f s (behind: %s): left out",
        name,
        timeout_s,
        behind,
    )
    return False
