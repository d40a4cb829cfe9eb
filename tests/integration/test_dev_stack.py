"""The dev stack for real: up, roles, a row through rw read back through ro, down, nothing left."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import psycopg
import pytest
import redis
from psycopg.conninfo import make_conninfo
from redis.sentinel import Sentinel

from gracectl.teardown import stack_processes
from gracectl.waiting import wait_until
from tests.conftest import Sandbox

pytestmark = pytest.mark.integration


def status_json(sandbox: Sandbox) -> dict[str, Any]:
    result = sandbox.run("status", "--json")
    assert result.code == 0, result
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def env_of(sandbox: Sandbox) -> dict[str, str]:
    result = sandbox.run("env", "--json")
    assert result.code == 0, result
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def read_back(dsn: str, table: str) -> list[int] | None:
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            return [r[0] for r in conn.execute(f"SELECT id FROM {table} ORDER BY id")]
    except psycopg.Error:
        return None


def test_dev_stack_lifecycle(sandbox: Sandbox) -> None:
    up = sandbox.run("up", "--profile", "dev")
    assert up.code == 0, up
    assert "PostgreSQL read-write" in up.stdout

    status = status_json(sandbox)
    roles = {c["name"]: (c["kind"], c["role"], c["state"]) for c in status["components"]}
    assert roles["etcd-0"] == ("etcd", "leader", "running")
    pg_roles = sorted(r for k, r, s in roles.values() if k == "postgres" and s == "running")
    assert pg_roles == ["leader", "sync_replica"]
    assert sorted(r for k, r, _ in roles.values() if k == "redis") == ["master", "replica"]
    assert roles["sentinel-0"][1:] == ("sentinel", "running")
    assert all(c["pid"] for c in status["components"]), status["components"]
    replica = next(c for c in status["components"] if c["role"] == "sync_replica")
    assert isinstance(replica["lag_bytes"], int)
    ep = status["endpoints"]
    assert ep["postgres_rw"] == f"127.0.0.1:{sandbox.base_port + 6}"
    assert ep["redis_master_name"] == "grace"

    # Secrets are private; nothing listens beyond loopback.
    assert (sandbox.home / "secrets.json").stat().st_mode & 0o777 == 0o600

    env = env_of(sandbox)
    with psycopg.connect(env["GRACE_PG_RW_DSN"], autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        conn.execute("CREATE TABLE kept (id int PRIMARY KEY)")
        conn.execute("INSERT INTO kept SELECT generate_series(1, 100)")
    # Synchronous commit: the sync standby has it; ro reaches a replica.
    with psycopg.connect(env["GRACE_PG_RO_DSN"]) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
    assert wait_until(lambda: read_back(env["GRACE_PG_RO_DSN"], "kept") == list(range(1, 101)), 10)

    with pytest.raises(psycopg.Error):
        psycopg.connect(make_conninfo(env["GRACE_PG_RW_DSN"], password="wrong"), connect_timeout=3)

    sentinel_host, sentinel_port = env["GRACE_REDIS_SENTINELS"].split(",")[0].split(":")
    sentinel = Sentinel(
        [(sentinel_host, int(sentinel_port))], socket_timeout=2, password=None, sentinel_kwargs={}
    )
    master = sentinel.master_for("grace", password=env["GRACE_REDIS_PASSWORD"], socket_timeout=2)
    master.set("gracectl:probe", "1")
    assert master.get("gracectl:probe") == b"1"
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host=sentinel_host, port=sandbox.base_port + 9, password="wrong").ping()

    again = sandbox.run("up")
    assert again.code == 0, again
    assert "already up" in again.stderr

    down = sandbox.run("down")
    assert down.code == 0, down
    assert stack_processes(sandbox.home) == []

    # Data is kept: the same rows come back after another up.
    assert sandbox.run("up").code == 0
    env = env_of(sandbox)
    assert read_back(env["GRACE_PG_RW_DSN"], "kept") == list(range(1, 101))

    down = sandbox.run("down", "--purge")
    assert down.code == 0, down
    assert stack_processes(sandbox.home) == []
    assert not sandbox.home.exists()


def test_up_starts_a_missing_member_and_down_sweeps_orphans(sandbox: Sandbox) -> None:
    assert sandbox.run("up", "--profile", "dev").code == 0
    status = status_json(sandbox)
    replica = next(
        c for c in status["components"] if c["role"] == "replica" and c["kind"] == "redis"
    )

    os.kill(replica["pid"], signal.SIGKILL)
    assert wait_until(
        lambda: (
            next(c for c in status_json(sandbox)["components"] if c["name"] == replica["name"])[
                "state"
            ]
            == "stopped"
        ),
        10,
    )
    again = sandbox.run("up")
    assert again.code == 0, again
    assert "1 started" in again.stderr
    after = {c["name"]: c for c in status_json(sandbox)["components"]}
    assert after[replica["name"]]["state"] == "running"

    # Kill Patroni on the leader only: its postmaster is orphaned, and down must still stop it.
    leader = next(
        c
        for c in status_json(sandbox)["components"]
        if c["role"] == "leader" and c["kind"] == "postgres"
    )
    os.kill(leader["pid"], signal.SIGKILL)
    down = sandbox.run("down")
    assert down.code == 0, down
    assert "leftover" in down.stderr
    assert stack_processes(sandbox.home) == []
