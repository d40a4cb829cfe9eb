"""Native load tools run against the stack's own endpoints, and what they measured: pgbench
(a single-INSERT script through HAProxy's rw port, a point-read script through its ro port),
redis-benchmark (SET/GET, or XADD) on the master the Sentinels name, and Kafka's
ProducerPerformance (acks=all) on the brokers. Each run gives a NativeCeiling: the ceiling
gracectl's own load generators are compared with.

The output parsers (pure) live in gracectl.native_output; a tool that fails, times out or prints
something unreadable raises NativeToolError with the tail of its output in `details`.
Passwords never appear in the recorded command: pgbench gets PGPASSWORD in its environment;
redis-benchmark 7.0 reads no password from its environment (REDISCLI_AUTH is redis-cli's
only: NOAUTH), so it gets `-a` and the recorded command shows `-a ***`.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import redis
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from redis.sentinel import Sentinel

from gracectl.bus.factory import parse_endpoints
from gracectl.bus.kafka_bus import KafkaBus
from gracectl.capacity.model import NativeCeiling
from gracectl.config import PostgresConfig
from gracectl.errors import ConfigError, EnvironmentProblem
from gracectl.native_output import (
    NativeToolError,
    PgbenchSummary,
    RedisBenchmarkRow,
    parse_pgbench,
    parse_producer_performance,
    parse_redis_benchmark_csv,
    percentile,
    pgbench_latencies_ms,
    tail,
)
from gracectl.waiting import timeout_multiplier, wait_until
from gracectl.workload import ID_RUN_SHIFT, MAX_RUN

log = logging.getLogger(__name__)

PGBENCH_TABLE = "gracectl_pgbench"
XADD_STREAM = "gracectl-bench"
PRODUCER_PERFORMANCE_MAIN = "org.apache.kafka.tools.ProducerPerformance"
SETUP_HINT = "run scripts/setup.sh to install the stack's packages"
STACK_HINT = "is the stack up? `gracectl status`"
#: Rows a point-read run seeds into an empty table (when given a read-write DSN).
SEED_ROWS = 10_000
SEED_VISIBLE_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10
#: A tool gets its planned run time plus this before it is killed.
SLACK_S = 60.0
_TABLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
_REDIS_TESTS = re.compile(r"^[a-z_]+(,[a-z_]+)*$")

INSERT_SCRIPT = """\\set id :base + (:client_id << 24) + :n
\\set n :n + 1
INSERT INTO {table} (id, worker) VALUES (:id, 'pgbench');
"""
# A point read that always finds a row, however sparse the ids (gracectl's id layout has
# large gaps): the first id at or above a random one, by the primary key's index.
SELECT_SCRIPT = """\\set lo random(:lo_id, :hi_id)
SELECT id FROM {table} WHERE id >= :lo ORDER BY id LIMIT 1;
"""


# -- running a tool ----------------------------------------------------------------------------
def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


def _binary(path: str, tool: str) -> str:
    found = path if "/" in path and os.access(path, os.X_OK) else shutil.which(path)
    if not found:
        raise EnvironmentProblem(f"{tool}: binary {path!r} not found", hint=SETUP_HINT)
    return found


def run_tool(
    tool: str,
    argv: list[str],
    timeout_s: float,
    *,
    env: Mapping[str, str] | None = None,
    shown: list[str] | None = None,
    secret: str = "",
    hint: str = STACK_HINT,
) -> tuple[str, str]:
    """Run a tool to its end (killed past `timeout_s`); its (stdout, stderr). `shown` is
    the command as recorded (no password); `secret` is blanked out of anything raised."""
    command = shlex.join(shown or argv)

    def clean(text: str) -> str:
        return text.replace(secret, "***") if secret else text

    log.info("running %s: %s", tool, command)
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else None,
            timeout=timeout_s,
            check=False,
        )
    except FileNotFoundError as exc:
        raise EnvironmentProblem(f"{tool}: cannot run {argv[0]!r}", hint=SETUP_HINT) from exc
    except subprocess.TimeoutExpired as exc:
        output = _text(exc.stderr) or _text(exc.stdout)
        raise NativeToolError(
            f"{tool}: no result within {timeout_s:.0f} s (killed): {command}",
            hint=hint,
            details=clean(tail(output)),
        ) from exc
    if done.returncode != 0:
        output = done.stderr.strip() or done.stdout
        last = tail(output, 1) or "(no output)"
        raise NativeToolError(
            f"{tool} exited {done.returncode}: {clean(last)}",
            hint=hint,
            details=clean(tail(output)),
        )
    return done.stdout, done.stderr


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{name} must be positive, not {value:g}", hint="pass a value > 0")


def _table_name(table: str) -> str:
    if not _TABLE.match(table):
        raise ConfigError(
            f"bad table name {table!r}", hint="lower-case letters, digits and _ (max 63)"
        )
    return table


# -- pgbench -----------------------------------------------------------------------------------
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


def _pgbench_binary(tool: str, clients: int, duration_s: float, bin_dir: Path | None) -> str:
    """Check the arguments and find pgbench, before anything touches the database."""
    _positive("clients", clients)
    _positive("duration_s", duration_s)
    return _binary(str((bin_dir or default_pg_bin_dir()) / "pgbench"), tool)


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
    pgbench = _pgbench_binary(tool, clients, duration_s, bin_dir)
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
    _pgbench_binary("pgbench-insert", clients, duration_s, bin_dir)
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
    _pgbench_binary("pgbench-select", clients, duration_s, bin_dir)
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


# -- redis-benchmark ---------------------------------------------------------------------------
def redis_master_address(env: Mapping[str, str]) -> tuple[str, int]:
    """The Redis master's (host, port) as the Sentinels name it, from the stack's connection
    environment (`gracectl env`: GRACE_REDIS_SENTINELS, GRACE_REDIS_MASTER_NAME)."""
    sentinels = parse_endpoints(env.get("GRACE_REDIS_SENTINELS", ""))
    name = env.get("GRACE_REDIS_MASTER_NAME") or "grace"
    timeouts = {"socket_timeout": 2.0, "socket_connect_timeout": 2.0}
    # redis-py's Sentinel is unannotated.
    sentinel: Any = Sentinel(sentinels, sentinel_kwargs=timeouts)  # type: ignore[no-untyped-call]
    try:
        host, port = sentinel.discover_master(name)
    except redis.RedisError as exc:
        raise NativeToolError(
            f"redis: no master {name!r} from the Sentinels: {exc}", hint=STACK_HINT
        ) from exc
    return str(host), int(port)


def _redis_client(host: str, port: int, password: str) -> redis.Redis:
    return redis.Redis(
        host=host,
        port=port,
        password=password or None,
        socket_timeout=5.0,
        socket_connect_timeout=5.0,
    )


def _check_redis(host: str, port: int, password: str) -> None:
    """Find redis-benchmark, then check Redis answers (redis-benchmark spins forever on a
    refused connection)."""
    _binary("redis-benchmark", "redis-benchmark")
    client = _redis_client(host, port, password)
    try:
        client.ping()
    except redis.AuthenticationError as exc:
        raise NativeToolError(
            f"redis-benchmark: Redis at {host}:{port} refused the password: {exc}",
            hint="pass GRACE_REDIS_PASSWORD from `gracectl env`",
        ) from exc
    except redis.RedisError as exc:
        raise NativeToolError(
            f"redis-benchmark: cannot reach Redis at {host}:{port}: {exc}", hint=STACK_HINT
        ) from exc
    finally:
        client.close()


def _redis_benchmark(
    tool: str,
    host: str,
    port: int,
    password: str,
    options: list[str],
    shown_tail: list[str],
    requests_total: int,
    timeout_s: float | None,
) -> tuple[str, list[RedisBenchmarkRow]]:
    binary = _binary("redis-benchmark", tool)
    head = [binary, "-h", host, "-p", str(port)]
    auth = ["-a", password] if password else []
    argv = [*head, *auth, *options]
    shown = [*head, *(["-a", "***"] if password else []), *shown_tail]
    # Assume at least 2,000 requests/s before calling it stuck.
    bound = timeout_s or (SLACK_S + requests_total / 2000) * timeout_multiplier()
    output, _ = run_tool(tool, argv, bound, shown=shown, secret=password)
    return shlex.join(shown), parse_redis_benchmark_csv(output)


def redis_benchmark(
    host: str,
    port: int,
    password: str,
    clients: int = 50,
    requests: int = 200_000,
    tests: str = "set,get",
    pipeline: int = 1,
    *,
    timeout_s: float | None = None,
) -> NativeCeiling:
    """redis-benchmark's built-in tests (one after the other, each `requests` long) on the
    master at host:port (`redis_master_address`). Throughput: the mean over the tests (they
    do not run at once, so a sum would mean nothing); p99: the worst test's."""
    for name, value in (("clients", clients), ("requests", requests), ("pipeline", pipeline)):
        _positive(name, value)
    if not _REDIS_TESTS.match(tests):
        raise ConfigError(f"bad redis-benchmark tests {tests!r}", hint='e.g. "set,get"')
    options = [
        "-c",
        str(clients),
        "-n",
        str(requests),
        "-t",
        tests,
        "-P",
        str(pipeline),
        "--csv",
        "-q",
    ]
    _check_redis(host, port, password)
    command, rows = _redis_benchmark(
        "redis-benchmark",
        host,
        port,
        password,
        options,
        options,
        requests * len(tests.split(",")),
        timeout_s,
    )
    p99s = [r.p99_ms for r in rows if r.p99_ms is not None]
    per_test = ", ".join(
        f"{r.test} {r.requests_per_s:,.0f}/s"
        + (f" (p99 {r.p99_ms:g} ms)" if r.p99_ms is not None else "")
        for r in rows
    )
    return NativeCeiling(
        tool="redis-benchmark",
        command=command,
        throughput=statistics.fmean(r.requests_per_s for r in rows),
        unit="ops/s",
        p99_ms=max(p99s) if p99s else None,
        detail=(
            f"mean over tests run one after the other: {per_test}; p99 of the worst test; "
            f"{clients} clients, pipeline {pipeline}, {requests} requests per test"
        ),
    )


def redis_benchmark_xadd(
    host: str,
    port: int,
    password: str,
    clients: int = 50,
    requests: int = 200_000,
    pipeline: int = 1,
    *,
    stream: str = XADD_STREAM,
    payload_bytes: int = 100,
    timeout_s: float | None = None,
) -> NativeCeiling:
    """redis-benchmark running `XADD <stream> * k key v <payload_bytes bytes>` (the fields
    gracectl's Redis Streams bus writes) on the master; the stream is deleted before and
    after."""
    for name, value in (("clients", clients), ("requests", requests), ("pipeline", pipeline)):
        _positive(name, value)
    if not _TOPIC.match(stream):
        raise ConfigError(f"bad stream name {stream!r}", hint="letters, digits, . _ -")
    common = ["-c", str(clients), "-n", str(requests), "-P", str(pipeline), "--csv"]
    command_words = ["XADD", stream, "*", "k", "key", "v"]
    options = [*common, *command_words, "x" * max(1, payload_bytes)]
    shown_tail = [*common, *command_words, f"<{max(1, payload_bytes)} bytes>"]
    _check_redis(host, port, password)
    _delete_key(host, port, password, stream)
    try:
        command, rows = _redis_benchmark(
            "redis-benchmark", host, port, password, options, shown_tail, requests, timeout_s
        )
    finally:
        _delete_key(host, port, password, stream)
    (row, *_) = rows
    return NativeCeiling(
        tool="redis-benchmark",
        command=command,
        throughput=row.requests_per_s,
        unit="events/s",
        p99_ms=row.p99_ms,
        detail=(
            f"XADD of a {payload_bytes}-byte value to one stream; {clients} clients, "
            f"pipeline {pipeline}, {requests} requests"
            + (
                f"; p50 {row.p50_ms:g} ms, max {row.max_ms:g} ms"
                if row.p50_ms is not None and row.max_ms is not None
                else ""
            )
        ),
    )


def _delete_key(host: str, port: int, password: str, key: str) -> None:
    client = _redis_client(host, port, password)
    try:
        client.delete(key)
    except redis.RedisError as exc:
        log.warning("could not delete %s on %s:%d: %s", key, host, port, exc)
    finally:
        client.close()


# -- Kafka ProducerPerformance -----------------------------------------------------------------
def kafka_producer_performance(
    bootstrap: str,
    topic: str,
    records: int,
    record_size: int = 100,
    acks: str = "all",
    throughput: int = -1,
    *,
    libs_dir: Path,
    partitions: int = 3,
    replication_factor: int | None = None,
    min_insync_replicas: int | None = None,
    heap_mb: int = 256,
    timeout_s: float | None = None,
) -> NativeCeiling:
    """Kafka's ProducerPerformance (the jars of `libs_dir`, a small JVM heap): `records`
    records of `record_size` bytes, `throughput` -1 = as fast as it can. The topic is created
    first like gracectl's event topics (KafkaBus.create_topic: `replication_factor` and
    `min_insync_replicas`, None = the brokers' defaults, which gracectl sets to the
    cluster's)."""
    for name, value in (("records", records), ("record_size", record_size)):
        _positive(name, value)
    if not _TOPIC.match(topic):
        raise ConfigError(f"bad topic name {topic!r}", hint="letters, digits, . _ -")
    if acks not in ("all", "-1", "0", "1"):
        raise ConfigError(f"bad acks {acks!r}", hint="one of all, -1, 0, 1")
    java = _binary("java", "ProducerPerformance")
    if not any(libs_dir.glob("kafka-tools-*.jar")):
        raise EnvironmentProblem(
            f"ProducerPerformance: no kafka-tools jar in {libs_dir}", hint=SETUP_HINT
        )
    bus = KafkaBus(
        bootstrap,
        topic=topic,
        replication_factor=replication_factor,
        min_insync_replicas=min_insync_replicas,
    )
    with bus:
        bus.create_topic(topic, partitions)
    argv = [
        java, f"-Xmx{heap_mb}m", "-cp", f"{libs_dir}/*", PRODUCER_PERFORMANCE_MAIN,
        "--topic", topic, "--num-records", str(records), "--record-size", str(record_size),
        "--throughput", str(throughput),
        "--producer-props", f"bootstrap.servers={bootstrap}", f"acks={acks}",
    ]  # fmt: skip
    # Assume at least 1,000 records/s (a throttled run: its rate) before calling it stuck.
    rate = throughput if throughput > 0 else 1000
    bound = timeout_s or (SLACK_S + records / min(rate, 1000)) * timeout_multiplier()
    output, stderr = run_tool(
        "ProducerPerformance", argv, bound, hint="are the brokers up? `gracectl status`"
    )
    try:
        summary = parse_producer_performance(output)
    except NativeToolError as exc:
        raise NativeToolError(exc.message, hint=exc.hint, details=tail(stderr + output)) from exc
    if summary.records == 0:
        raise NativeToolError(
            "ProducerPerformance: no record was acknowledged",
            hint="see the details for the producer's errors",
            details=tail(stderr + output),
        )
    errors = sum("Exception" in line for line in stderr.splitlines())
    notes = []
    if summary.records < records:
        notes.append(f"only {summary.records} of {records} acknowledged")
    if errors:
        notes.append(f"{errors} exception line(s) on stderr")
    return NativeCeiling(
        tool="kafka-producer-perf",
        command=shlex.join(argv),
        throughput=summary.records_per_s,
        unit="events/s",
        p99_ms=summary.p99_ms,
        detail="; ".join(
            [
                f"{summary.records} records of {record_size} B, acks={acks}, throughput "
                f"{'unthrottled' if throughput < 0 else throughput}, topic {topic} "
                f"({partitions} partitions)",
                f"{summary.mb_per_s:g} MB/s",
                f"latency avg {summary.avg_ms:g} / p50 {summary.p50_ms:g} / p95 "
                f"{summary.p95_ms:g} / p99 {summary.p99_ms:g} / p99.9 {summary.p999_ms:g} / "
                f"max {summary.max_ms:g} ms (from send() to ack: includes time queued in "
                "the producer's buffer)",
                *notes,
            ]
        ),
    )
