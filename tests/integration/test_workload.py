"""The chaos workload for real: Locust on a dev stack, its history, the final read, and a
frozen leader (SIGSTOP) that the history shows as latency from the intended send time."""

from __future__ import annotations

import csv
import itertools
import json
import signal
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import psutil
import pytest

from gracectl.final_read import final_read_at
from gracectl.history import Operation, read_history
from gracectl.status import StackStatus
from gracectl.workload import ID_RUN_SHIFT, Workload, WorkloadSpec
from tests.conftest import Sandbox

pytestmark = pytest.mark.integration


def _up(sandbox: Sandbox) -> tuple[StackStatus, dict[str, str]]:
    up = sandbox.run("up", "--profile", "dev")
    assert up.code == 0, up
    status = sandbox.run("status", "--json")
    env = sandbox.run("env", "--json")
    assert status.code == 0 and env.code == 0, (status, env)
    return StackStatus.model_validate_json(status.stdout), json.loads(env.stdout)


def _history(paths: tuple[Path, ...]) -> list[Operation]:
    return [op for path in paths for op in read_history(path)]


def _stats_row(stats_csv: Path, name: str) -> dict[str, Any]:
    with stats_csv.open() as fh:
        return next(row for row in csv.DictReader(fh) if row["Name"] == name)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def test_open_model_history_matches_final_read(sandbox: Sandbox, tmp_path: Path) -> None:
    status, env = _up(sandbox)
    spec = WorkloadSpec(
        writers=4, readers=2, write_rate=200, read_rate=100, duration_s=10, op_timeout_s=2
    )
    with Workload(spec, env, tmp_path / "run") as workload:
        result = workload.wait(timeout_s=40)
    assert result.exit_code == 0 and not result.stopped, result.output_path.read_text()[-2000:]

    ops = _history(result.history_paths)
    writes = [o for o in ops if o.op == "write"]
    reads = [o for o in ops if o.op == "read"]
    # Every planned operation is recorded exactly once: 10 s at 200/s and 100/s.
    assert len(writes) == 2000 and len(reads) == 1000
    assert len({o.value for o in writes}) == 2000
    assert {o.value >> ID_RUN_SHIFT for o in writes if o.value} == {result.run_number}
    acked = {o.value for o in writes if o.outcome == "ok"}
    assert len(acked) >= 0.99 * len(writes), [o for o in writes if o.outcome != "ok"][:5]

    # Open model: never early, latency from the intended time, schedule at each user's share.
    assert all(o.start >= o.intended - 1e-3 for o in ops)
    assert all(o.latency_s >= o.end - o.start for o in ops)
    by_worker: dict[str, list[float]] = defaultdict(list)
    for o in writes:
        by_worker[o.worker].append(o.intended)
    assert len(by_worker) == 4
    for intended in by_worker.values():
        gaps = [b - a for a, b in itertools.pairwise(intended)]
        assert statistics.fmean(gaps) == pytest.approx(1 / 50, rel=1e-3)

    # Achieved ≈ offered: acked writes over the span in which they completed.
    span = max(o.end for o in writes) - min(o.intended for o in writes)
    assert len(acked) / span == pytest.approx(200, rel=0.1)
    assert sum(o.late for o in ops) <= 0.2 * len(ops)  # a shared 2-core machine

    # Locust's own stats see the same operations (their response times are from intended).
    row = _stats_row(result.stats_path, "write")
    assert int(row["Request Count"]) == 2000

    final = final_read_at(status, env["GRACE_PG_ADMIN_DSN"], spec.table)
    nodes = {c.name: c.role for c in status.by_kind("postgres")}
    assert nodes[final.leader] == "leader"
    assert acked <= final.leader_ids
    assert set(final.replica_ids) == set(nodes) - {final.leader}
    assert all(acked <= ids for ids in final.replica_ids.values())


def _postmaster(home: Path, node: str) -> psutil.Process:
    pgdata = f"{home}/data/{node}/pgdata"
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if cmd and cmd[0].endswith("/postgres") and "-D" in cmd and pgdata in cmd:
            found.append(proc)
    assert len(found) == 1, found
    return found[0]


def test_frozen_leader_shows_as_latency_from_intended(sandbox: Sandbox, tmp_path: Path) -> None:
    status, env = _up(sandbox)
    leader = next(c.name for c in status.by_kind("postgres") if c.role == "leader")
    op_timeout, pause = 2.0, 3.0
    spec = WorkloadSpec(
        writers=2, readers=2, write_rate=100, read_rate=100, duration_s=8, op_timeout_s=op_timeout
    )
    postmaster = _postmaster(sandbox.home, leader)
    with Workload(spec, env, tmp_path / "run") as workload:
        time.sleep(3)  # load running for ~2 s (Locust takes ~1 s to start)
        # SIGSTOP on the postmaster alone freezes only new connections: established backends
        # keep answering. Freeze the whole server, as a hung host would.
        frozen = [postmaster, *postmaster.children()]
        paused_at = time.time()
        try:
            for proc in frozen:
                proc.send_signal(signal.SIGSTOP)
            time.sleep(pause)
        finally:
            for proc in frozen:
                proc.send_signal(signal.SIGCONT)
            resumed_at = time.time()
        result = workload.wait(timeout_s=40)
    assert result.exit_code == 0, result.output_path.read_text()[-2000:]

    ops = _history(result.history_paths)
    writes = [o for o in ops if o.op == "write"]
    assert len(writes) == 800

    # Writes in flight when the server froze went indeterminate at the timeout, not later.
    failed = [o for o in writes if o.outcome != "ok"]
    assert any(o.outcome == "info" and "timeout" in (o.error or "") for o in failed), failed
    assert all(o.end - o.start <= op_timeout + 0.5 for o in failed), failed

    # Latency from intended shows the pause; the service time (from the actual start, what a
    # closed-loop Locust would report) does not.
    during = [o for o in writes if paused_at <= o.intended <= resumed_at]
    worst = max(o.latency_s for o in during)
    assert 0.8 * pause <= worst <= pause + op_timeout + 1.0, worst
    assert _quantile([o.latency_s for o in writes], 0.95) >= 1.0
    assert _quantile([o.end - o.start for o in writes], 0.95) < 0.5
    assert sum(o.late for o in writes) >= 0.5 * len(during)

    # Readers (on the replica) kept their schedule while the leader was frozen: one blocked
    # greenlet does not freeze the others (psycopg's wait is gevent-cooperative).
    reads_during = [o for o in ops if o.op == "read" and paused_at + 0.2 <= o.intended]
    reads_during = [o for o in reads_during if o.intended <= resumed_at - 0.2]
    assert len(reads_during) >= 0.8 * 100 * (pause - 0.4)
    assert all(o.outcome == "ok" and o.latency_s < 0.5 for o in reads_during), [
        o for o in reads_during if o.outcome != "ok" or o.latency_s >= 0.5
    ][:5]

    # The writers recovered once the server resumed, and nothing acknowledged was lost.
    assert any(o.outcome == "ok" and o.intended > resumed_at + 1 for o in writes)
    final = final_read_at(status, env["GRACE_PG_ADMIN_DSN"], spec.table)
    assert {o.value for o in writes if o.outcome == "ok"} <= final.leader_ids
