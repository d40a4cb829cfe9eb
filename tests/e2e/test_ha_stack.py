"""The Grace document's topology for real: 3 etcd, 1 leader + 3 streaming replicas (one sync),
HAProxy rw/ro, Redis master + 2 replicas, 3 Sentinels; then down leaves nothing."""

from __future__ import annotations

import json

import psycopg
import pytest

from gracectl.teardown import stack_processes
from tests.conftest import Sandbox

pytestmark = pytest.mark.e2e


def test_ha_up_status_down(sandbox: Sandbox) -> None:
    up = sandbox.run("up")
    assert up.code == 0, up
    status = json.loads(sandbox.run("status", "--json").stdout)
    assert status["profile"] == "ha"
    by_kind: dict[str, list[dict[str, object]]] = {}
    for c in status["components"]:
        assert c["state"] == "running", c
        by_kind.setdefault(str(c["kind"]), []).append(c)
    assert len(by_kind["etcd"]) == 3
    assert sum(c["role"] == "leader" for c in by_kind["etcd"]) == 1
    pg_roles = sorted(str(c["role"]) for c in by_kind["postgres"])
    assert pg_roles[0] == "leader"
    assert len(pg_roles) == 4
    assert "sync_replica" in pg_roles
    assert all(c["lag_bytes"] is not None for c in by_kind["postgres"] if c["role"] != "leader")
    assert sorted(str(c["role"]) for c in by_kind["redis"]) == ["master", "replica", "replica"]
    assert len(by_kind["sentinel"]) == 3
    assert len(status["endpoints"]["redis_sentinels"]) == 3

    env = json.loads(sandbox.run("env", "--json").stdout)
    with psycopg.connect(env["GRACE_PG_ADMIN_DSN"], autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        sync = conn.execute(
            "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'"
        ).fetchone()
        streaming = conn.execute(
            "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
        ).fetchone()
    assert sync == (1,)
    assert streaming == (3,)
    with psycopg.connect(env["GRACE_PG_RO_DSN"]) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)

    down = sandbox.run("down")
    assert down.code == 0, down
    assert stack_processes(sandbox.home) == []
