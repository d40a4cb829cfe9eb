"""The native load tools for real, a few seconds each, on one dev stack with the Kafka bus:
pgbench (INSERT through the rw port, point reads through the ro port), redis-benchmark (SET/GET
and XADD) on the master the Sentinel names, Kafka's ProducerPerformance with acks=all; and a
wrong password or a refused record reported as a NativeToolError carrying the words of the
tool or server."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gracectl.components.kafka import default_libs_dir
from gracectl.errors import EXIT_COULD_NOT_RUN
from gracectl.native import (
    kafka_producer_performance,
    pgbench_insert,
    pgbench_select,
    redis_benchmark,
    redis_benchmark_xadd,
    redis_master_address,
)
from gracectl.native.output import NativeToolError
from tests.conftest import Sandbox, _next_port

pytestmark = pytest.mark.integration

KAFKA_ENV = {"GRACECTL_BUS": "kafka"}


@pytest.fixture(scope="module")
def stack_env() -> Iterator[dict[str, str]]:
    """`gracectl env --json` of a dev stack with Kafka, shared by this module's tests."""
    root = Path(tempfile.mkdtemp(prefix="gracectl-test-", dir="/tmp"))
    root.chmod(0o755)
    (root / "cwd").mkdir()
    box = Sandbox(home=root / "home", base_port=_next_port[0], cwd=root / "cwd")
    _next_port[0] += 40
    try:
        up = box.run("up", "--profile", "dev", timeout=420, **KAFKA_ENV)
        assert up.code == 0, up.stderr
        env = box.run("env", "--json", **KAFKA_ENV)
        assert env.code == 0, env.stderr
        yield json.loads(env.stdout)
    finally:
        if (box.home / "state.json").exists():
            box.run("down", "--purge", timeout=180, **KAFKA_ENV)
        shutil.rmtree(root, ignore_errors=True)


def test_pgbench_insert_then_point_reads(stack_env: dict[str, str]) -> None:
    rw, ro = stack_env["GRACE_PG_RW_DSN"], stack_env["GRACE_PG_RO_DSN"]
    password = psycopg.conninfo.conninfo_to_dict(rw)["password"]
    writes = pgbench_insert(rw, clients=2, duration_s=2)
    assert writes.unit == "writes/s" and writes.throughput > 0
    assert writes.p99_ms is not None and writes.p99_ms > 0
    assert str(password) not in writes.command and "-f" in writes.command
    with psycopg.connect(rw, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM gracectl_pgbench").fetchone()
    assert row is not None and row[0] > 0
    # A second run takes a new id range: no primary-key collision with the first.
    assert pgbench_insert(rw, clients=2, duration_s=1).throughput > 0

    reads = pgbench_select(ro, clients=2, duration_s=2)
    assert reads.unit == "reads/s" and reads.throughput > 0 and reads.p99_ms

    # An empty table: refused without a seed, seeded through the rw port with one.
    with pytest.raises(NativeToolError, match="missing or empty"):
        pgbench_select(ro, clients=1, duration_s=1, table="gracectl_native_empty")
    seeded = pgbench_select(ro, clients=1, duration_s=1, table="gracectl_native_empty", seed_dsn=rw)
    assert seeded.throughput > 0

    wrong = rw.replace(str(password), "not-the-password")
    with pytest.raises(NativeToolError) as caught:
        pgbench_insert(wrong, clients=1, duration_s=1)
    assert caught.value.exit_code == EXIT_COULD_NOT_RUN
    assert "password authentication failed" in caught.value.message


def test_redis_benchmark_on_the_sentinel_master(stack_env: dict[str, str]) -> None:
    host, port = redis_master_address(stack_env)
    password = stack_env["GRACE_REDIS_PASSWORD"]
    ops = redis_benchmark(host, port, password, clients=10, requests=5_000)
    assert ops.unit == "ops/s" and ops.throughput > 0 and ops.p99_ms
    assert password not in ops.command and "-a '***'" in ops.command
    assert "SET" in ops.detail and "GET" in ops.detail

    xadd = redis_benchmark_xadd(host, port, password, clients=10, requests=5_000)
    assert xadd.unit == "events/s" and xadd.throughput > 0 and password not in xadd.command

    with pytest.raises(NativeToolError, match="refused the password"):
        redis_benchmark(host, port, "not-the-password", requests=10)


def test_kafka_producer_performance(stack_env: dict[str, str]) -> None:
    result = kafka_producer_performance(
        stack_env["GRACE_KAFKA_BOOTSTRAP"],
        "gracectl-native-test",
        records=5_000,
        libs_dir=default_libs_dir(),
        replication_factor=3,
        min_insync_replicas=2,
    )
    assert result.unit == "events/s" and result.throughput > 0
    assert result.p99_ms is not None and "5000 records of 100 B, acks=all" in result.detail

    # Every record refused (larger than max.request.size): ProducerPerformance still exits 0.
    with pytest.raises(NativeToolError, match="no record was acknowledged") as caught:
        kafka_producer_performance(
            stack_env["GRACE_KAFKA_BOOTSTRAP"],
            "gracectl-native-test",
            records=3,
            record_size=2_000_000,
            libs_dir=default_libs_dir(),
        )
    assert "RecordTooLargeException" in caught.value.details
