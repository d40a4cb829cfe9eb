"""Chaos on the real dev stack: a clean failover, a real acknowledged-write loss that the
checker must catch, and interrupted runs that must leave nothing broken behind."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from gracectl.scenario import bundled_dir
from gracectl.waiting import wait_until
from tests.conftest import GRACECTL, Sandbox

pytestmark = pytest.mark.integration


@pytest.fixture
def dev_stack(sandbox: Sandbox) -> Iterator[Sandbox]:
    up = sandbox.run("up", "--profile", "dev")
    assert up.code == 0, up
    yield sandbox


def status_of(sandbox: Sandbox) -> dict[str, Any]:
    result = sandbox.run("status", "--json")
    assert result.code == 0, result
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def all_running(sandbox: Sandbox) -> bool:
    return all(c["state"] == "running" for c in status_of(sandbox)["components"])


def locust_processes(home: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "locust" in cmd and str(home) in cmd:
            found.append(proc)
    return found


def test_sync_kill_primary_loses_nothing_and_recovers(dev_stack: Sandbox) -> None:
    leader_before = next(c["name"] for c in status_of(dev_stack)["components"]
                         if c["kind"] == "postgres" and c["role"] == "leader")
    result = dev_stack.run("chaos", "kill-primary", "--duration", "40", "--fault-at", "5",
                           "--rate", "150", "--users", "3", "--json", timeout=400)
    assert result.code in (0, 3), result  # 3 only if a timing metric was inconclusive
    out = json.loads(result.stdout)
    metrics = out["metrics"]
    assert metrics["replication_mode"] == "synchronous"
    assert metrics["acked_writes"] > 500
    assert metrics["lost_acked_writes"] == 0
    assert metrics["duplicate_writes"] == 0
    assert metrics["rto_s"] is not None
    assert 0 < metrics["rto_s"] < 60
    assert out["lost_acked_ids"] == []
    lost = next(f for f in out["findings"] if f["name"] == "lost_acked_writes")
    assert lost["status"] == "pass"
    # The rollback brought the killed node back; someone else leads now.
    status = status_of(dev_stack)
    assert all(c["state"] == "running" for c in status["components"])
    leader_after = next(c["name"] for c in status["components"]
                        if c["kind"] == "postgres" and c["role"] == "leader")
    assert leader_after != leader_before
    # The journal re-renders on its own.
    journal = Path(out["history_path"]).parent / "journal.json"
    report = dev_stack.run("report", str(journal), "--json")
    assert json.loads(report.stdout)["verdict"] == out["verdict"]


def test_checker_fails_on_real_acknowledged_write_loss(dev_stack: Sandbox) -> None:
    scenario = bundled_dir() / "async-replication-loss.yaml"
    result = dev_stack.run("chaos", "run", str(scenario), "--json", timeout=400)
    out = json.loads(result.stdout)
    assert out["metrics"]["replication_mode"] == "asynchronous"
    assert out["metrics"]["lost_acked_writes"] > 0, out
    assert len(out["lost_acked_ids"]) == min(out["metrics"]["lost_acked_writes"], 1000)
    assert out["verdict"] == "fail"
    assert result.code == 1
    lost = next(f for f in out["findings"] if f["name"] == "lost_acked_writes")
    assert lost["status"] == "fail"
    # The run restored synchronous mode and a healthy cluster.
    status = status_of(dev_stack)
    assert status["replication_mode"] == "synchronous"
    assert wait_until(lambda: all_running(dev_stack), 60)


def _start_pause_run(sandbox: Sandbox) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*GRACECTL, "chaos", "pause", "postgres:leader", "--for", "30", "--duration", "45",
         "--fault-at", "2", "--rate", "50", "--users", "2"],
        env=sandbox.env(), cwd=sandbox.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )


def _paused_processes(home: Path) -> list[psutil.Process]:
    return [p for p in psutil.process_iter() if _is_stopped(p) and _mentions(p, home)]


def _is_stopped(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_STOPPED
    except psutil.Error:
        return False


def _mentions(proc: psutil.Process, home: Path) -> bool:
    try:
        if any(str(home) in a for a in proc.cmdline()):
            return True
        parent = proc.parent()
        return parent is not None and any(str(home) in a for a in parent.cmdline())
    except psutil.Error:
        return False


def _wait_for_pause(home: Path) -> None:
    assert wait_until(lambda: bool(_paused_processes(home)), 60), "the fault never fired"


def test_sigint_mid_fault_heals_before_exit(dev_stack: Sandbox) -> None:
    run = _start_pause_run(dev_stack)
    try:
        _wait_for_pause(dev_stack.home)
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=240)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 3, stderr
    assert "Traceback" not in stderr
    assert _paused_processes(dev_stack.home) == []
    assert locust_processes(dev_stack.home) == []
    assert wait_until(lambda: all_running(dev_stack), 60)


def test_killed_gracectl_is_healed_by_the_next_command(dev_stack: Sandbox) -> None:
    run = _start_pause_run(dev_stack)
    try:
        _wait_for_pause(dev_stack.home)
        run.kill()  # SIGKILL: no finally, no rollback in that process
        run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
    assert _paused_processes(dev_stack.home), "the fault should still be in place"
    status = dev_stack.run("status")  # any command heals the ledger first
    assert status.code == 0, status
    assert "healed node.pause" in status.stderr
    assert _paused_processes(dev_stack.home) == []
    assert wait_until(lambda: locust_processes(dev_stack.home) == [], 15)
    assert wait_until(lambda: all_running(dev_stack), 90)
    time.sleep(0.1)
