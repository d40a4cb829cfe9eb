"""Process identity: PID + start time, surviving a changed title, never a recycled PID."""

from __future__ import annotations

import subprocess

import pytest

from gracectl.processes import ProcessRecord, live_process, record
from gracectl.waiting import wait_until

pytestmark = pytest.mark.unit
_EMPTY = ProcessRecord(name="none", pid=0, create_time=0.0, cmdline=())


def test_identity_survives_a_new_title_and_ends_with_the_process() -> None:
    # `exec` replaces the command line (as PostgreSQL and Redis retitle themselves) while
    # the PID and start time stay: it is still the same process to resume or reap.
    proc = subprocess.Popen(["sh", "-c", "sleep 0.3; exec sleep 30"])
    try:
        # Right after fork the child may not have exec'd `sh` yet (an empty command line).
        assert wait_until(lambda: bool((record("x", proc.pid) or _EMPTY).cmdline), 5)
        rec = record("probe", proc.pid)
        assert rec is not None
        assert rec.cmdline[0] == "sh"
        assert wait_until(lambda: (record("x", proc.pid) or rec).cmdline[0] == "sleep", 5)
        assert live_process(rec) is not None
    finally:
        proc.kill()
        proc.wait()
    assert live_process(rec) is None


def test_a_recycled_pid_is_not_the_recorded_process() -> None:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        rec = record("probe", proc.pid)
        assert rec is not None
        older = ProcessRecord(name="probe", pid=rec.pid, create_time=rec.create_time - 5,
                              cmdline=rec.cmdline)
        assert live_process(older) is None
        assert live_process(rec) is not None
    finally:
        proc.kill()
        proc.wait()
