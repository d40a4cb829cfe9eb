"""pgbench against the stack: a single-INSERT script through HAProxy's rw port (ids in
gracectl's layout, so they never collide with the workload's) and a point-read script through
its ro port, on a table of the write workload's shape. pgbench gets its password through
PGPASSWORD, never on the command line; p99 comes from its per-transaction log."""

from __future__ import annotations

import os
import re
import shlex
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from gracectl.capacity.model import NativeCeiling
from gracectl.config import PostgresConfig
from gracectl.errors import ConfigError
from gracectl.native.output import (
    NativeToolError,
    PgbenchSummary,
    parse_pgbench,
    percentile,
    pgbench_latencies_ms,
    tail,
)
from gracectl.native.tool import (
    CONNECT_TIMEOUT_S,
    SLACK_S,
    STACK_HINT,
    find_binary,
    require_positive,
    run_tool,
)
from gracectl.waiting import timeout_multiplier, wait_until
from gracectl.workload import ID_RUN_SHIFT, MAX_RUN

PGBENCH_TABLE = "gracectl_pgbench"
#: Rows a point-read run seeds into an empty table (when given a read-write DSN).
SEED_ROWS = 10_000
SEED_VISIBLE_TIMEOUT_S = 30.0
_TABLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

INSERT_SCRIPT = """\\set id :base + (:client_id << 24) + :n
\\set n :n + 1
INSERT INTO {table} (id, worker) VALUES (:id, 'pgbench');
"""
# A point read that always finds a row, however sparse the ids (gracectl's id layout has
# large gaps): the first id at or above a random one, by the primary key's index.
SELECT_SCRIPT = """\\set lo random(:lo_id, :hi_id)
SELECT id FROM {table} WHERE id >= :lo ORDER BY id LIMIT 1;
"""


def _table_name(table: str) -> str:
    if not _TABLE.match(table):
        raise ConfigError(
            f"bad table name {table!r}", hint="lower-case letters, digits and _ (max 63)"
        )
    return table


def default_pg_bin_dir() -> Path:
    return PostgresConfig().bin_dir


@dataclass(frozen=True)
class _PgTarget:
    host: str
    port: str
    user: str
    dbname: str
    password: str

    @classmethod
    def of(cls, dsn: str) -> _PgTarget:
        try:
            parts = conninfo_to_dict(dsn)
        except psycopg.ProgrammingError as exc:
            raise ConfigError(f"bad PostgreSQL DSN: {exc}", hint="see `gracectl env`") from exc
        return cls(
            host=str(parts.get("host") or "127.0.0.1"),
            port=str(parts.get("port") or "5432"),
            user=str(parts.get("user") or ""),
            dbname=str(parts.get("dbname") or parts.get("user") or ""),
            password=str(parts.get("password") or ""),
        )

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}/{self.dbname}"


def _pg_error(what: str, target: _PgTarget, exc: psycopg.Error) -> NativeToolError:
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return NativeToolError(
        f"pgbench: {what} at {target.where}: {first_line}", hint=STACK_HINT, details=str(exc)
    )


def _create_table(conn: psycopg.Connection[tuple[object, ...]], table: str) -> None:
    """The shape of gracectl's write workload table (gracectl.workload)."""
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} "
            "(id bigint PRIMARY KEY, worker text, at timestamptz DEFAULT now())"
        ).format(sql.Identifier(table))
    )


def _next_id_base(conn: psycopg.Connection[tuple[object, ...]], table: str) -> int:
    """First id of a run number above every run in the table (gracectl's id layout: the run
    in the bits from ID_RUN_SHIFT up), so pgbench's ids never collide with earlier ones and
    gracectl's workload, which starts above the highest run, never collides with them."""
    row = conn.execute(
        sql.SQL("SELECT coalesce(max(id) >> {}, 0) + 1 FROM {}").format(
            sql.Literal(ID_RUN_SHIFT), sql.Identifier(table)
        )
    ).fetchone()
    run = int(str(row[0])) if row else 1
    if run > MAX_RUN:
        raise NativeToolError(
            f"pgbench: table {table} has used every run number",
            hint=f"drop or truncate {table}",
        )
    return run << ID_RUN_SHIFT


def prepare_insert_table(dsn: str, table: str) -> int:
    """Create the table if missing; the id base of a new run in it."""
    target = _PgTarget.of(dsn)
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            _create_table(conn, table)
            return _next_id_base(conn, table)
    except psycopg.Error as exc:
        raise _pg_error(f"cannot prepare table {table}", target, exc) from exc


def id_range(dsn: str, table: str) -> tuple[int, int] | None:
    """(lowest, highest) id in the table; None when it is missing or empty."""
    target = _PgTarget.of(dsn)
    query = sql.SQL("SELECT min(id), max(id) FROM {}").format(sql.Identifier(table))
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            row = conn.execute(query).fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    except psycopg.Error as exc:
        raise _pg_error(f"cannot read table {table}", target, exc) from exc
    if row is None or row[0] is None or row[1] is None:
        return None
    return int(str(row[0])), int(str(row[1]))


def seed_table(dsn: str, table: str, rows: int = SEED_ROWS) -> None:
    """Fill the table with `rows` ids of a new run (one INSERT ... SELECT)."""
    base = prepare_insert_table(dsn, table)
    insert = sql.SQL(
        "INSERT INTO {} (id, worker) SELECT {} + g, 'pgbench-seed' FROM generate_series(0, {}) g"
    ).format(sql.Identifier(table), sql.Literal(base), sql.Literal(rows - 1))
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.execute(insert)
    except psycopg.Error as exc:
        raise _pg_error(f"cannot seed table {table}", _PgTarget.of(dsn), exc) from exc


def _pgbenchfind_binary(tool: str, clients: int, duration_s: float, bin_dir: Path | None) -> str:
    """Check the arguments and find pgbench, before anything touches the database."""
    require_positive("clients", clients)
    require_positive("duration_s", duration_s)
    return find_binary(str((bin_dir or default_pg_bin_dir()) / "pgbench"), tool)


def _run_pgbench(
    tool: str,
    dsn: str,
    script: str,
    clients: int,
    duration_s: float,
    variables: Mapping[str, int],
    bin_dir: Path | None,
    unit: str,
) -> NativeCeiling:
    """Run pgbench: its transactions/s (in `unit`) as the ceiling, p99 from the
    per-transaction log."""
    pgbench = _pgbenchfind_binary(tool, clients, duration_s, bin_dir)
    target = _PgTarget.of(dsn)
    threads = min(clients, os.cpu_count() or 1)
    seconds = max(1, round(duration_s))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGPASSWORD=target.password, PGCONNECT_TIMEOUT=str(CONNECT_TIMEOUT_S))
    with tempfile.TemporaryDirectory(prefix="gracectl-pgbench-") as tmp:
        script_path = Path(tmp) / f"{tool}.sql"
        script_path.write_text(script)
        argv = [
            pgbench, "-h", target.host, "-p", target.port, "-U", target.user, "-n",
            "-f", str(script_path), "-c", str(clients), "-j", str(threads), "-T", str(seconds),
            *(arg for k, v in variables.items() for arg in ("-D", f"{k}={v}")),
            "-l", f"--log-prefix={tmp}/tx", target.dbname,
        ]  # fmt: skip
        timeout_s = (seconds + SLACK_S) * timeout_multiplier()
        output, _ = run_tool(tool, argv, timeout_s, env=env)
        summary = parse_pgbench(output)
        latencies: list[float] = []
        for log_file in Path(tmp).glob("tx.*"):
            with log_file.open() as fh:
                latencies += pgbench_latencies_ms(fh)
    if summary.transactions == 0 or summary.failed >= summary.transactions:
        raise NativeToolError(
            f"{tool}: no transaction succeeded against {target.where}",
            hint=STACK_HINT,
            details=tail(output),
        )
    return NativeCeiling(
        tool="pgbench",
        command=shlex.join(argv),
        throughput=summary.tps,
        unit=unit,
        p99_ms=percentile(latencies, 0.99),
        detail=_pgbench_detail(summary, clients, threads, script),
    )


def _pgbench_detail(summary: PgbenchSummary, clients: int, threads: int, script: str) -> str:
    failed = f", {summary.failed} failed" if summary.failed else ""
    avg = f"latency avg {summary.latency_avg_ms:g} ms, " if summary.latency_avg_ms else ""
    statement = script.strip().splitlines()[-1]
    return (
        f"{summary.transactions} transactions{failed}; {clients} clients, {threads} threads; "
        f"{avg}tps without the initial connection time; p99 from the per-transaction log; "
        f"query mode simple; script: {statement}"
    )


def pgbench_insert(
    dsn: str,
    clients: int,
    duration_s: float,
    table: str = PGBENCH_TABLE,
    *,
    bin_dir: Path | None = None,
) -> NativeCeiling:
    """pgbench with a single-INSERT script (unique ids in gracectl's layout, one per
    transaction, autocommit) against `dsn` (HAProxy's rw endpoint); the table is created if
    missing, with the shape of gracectl's write workload's table."""
    table = _table_name(table)
    _pgbenchfind_binary("pgbench-insert", clients, duration_s, bin_dir)
    base = prepare_insert_table(dsn, table)
    script = INSERT_SCRIPT.format(table=table)
    variables = {"n": 0, "base": base}
    return _run_pgbench("pgbench-insert", dsn, script, clients, duration_s, variables,
                            bin_dir, "writes/s")  # fmt: skip


def pgbench_select(
    dsn: str,
    clients: int,
    duration_s: float,
    table: str = PGBENCH_TABLE,
    *,
    seed_dsn: str | None = None,
    bin_dir: Path | None = None,
) -> NativeCeiling:
    """pgbench with a point-read script (the row at or above a random id, by primary key)
    against `dsn` (HAProxy's ro endpoint), on the table gracectl's read load reads. The table
    must hold rows; when it does not and `seed_dsn` (the rw endpoint) is given, SEED_ROWS are
    written there first and awaited on `dsn`."""
    table = _table_name(table)
    _pgbenchfind_binary("pgbench-select", clients, duration_s, bin_dir)
    found = id_range(dsn, table)
    if found is None and seed_dsn is not None:
        seed_table(seed_dsn, table)
        found = wait_until(lambda: id_range(dsn, table), SEED_VISIBLE_TIMEOUT_S, 0.5)
    if found is None:
        raise NativeToolError(
            f"pgbench-select: table {table} is missing or empty at {_PgTarget.of(dsn).where}",
            hint="write to it first (pgbench_insert, a write load), or pass seed_dsn",
        )
    script = SELECT_SCRIPT.format(table=table)
    lo_id, hi_id = found
    variables = {"lo_id": lo_id, "hi_id": hi_id}
    return _run_pgbench("pgbench-select", dsn, script, clients, duration_s, variables,
                            bin_dir, "reads/s")  # fmt: skip
