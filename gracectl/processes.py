"""Process identity: a PID is only ever signalled when its start time and command match.

PIDs are recycled; a record of (pid, create_time, cmdline) taken when gracectl saw the
process lets `down` and fault healing prove a process is the one it started.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from collections.abc import Iterable

import psutil
from pydantic import BaseModel, ConfigDict

log = logging.getLogger(__name__)


class ProcessRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    pid: int
    create_time: float
    cmdline: tuple[str, ...]


def record(name: str, pid: int) -> ProcessRecord | None:
    try:
        proc = psutil.Process(pid)
        return ProcessRecord(
            name=name, pid=pid, create_time=proc.create_time(), cmdline=tuple(proc.cmdline())
        )
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def live_process(rec: ProcessRecord) -> psutil.Process | None:
    """The live process behind `rec`, or None if it is gone or the PID was recycled.

    Identity is the PID plus the start time (kernel clock ticks since boot, so a recycled PID
    cannot match). Never the command line: PostgreSQL backends and Redis rewrite their
    titles all the time ("idle", "streaming 0/78DF1E0"), and a process whose title moved on
    is still the one that must be resumed or reaped."""
    try:
        proc = psutil.Process(rec.pid)
        if abs(proc.create_time() - rec.create_time) > 0.05:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def processes_mentioning(fragment: str) -> list[psutil.Process]:
    """Processes whose command line contains `fragment` (e.g. a data directory path)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if any(fragment in arg for arg in cmdline) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def terminate(procs: Iterable[psutil.Process], grace_s: float = 10.0) -> list[int]:
    """SIGTERM, wait up to `grace_s`, then SIGKILL what is left. Returns the PIDs signalled."""
    procs = list(procs)
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(procs, timeout=grace_s)
    for proc in alive:
        try:
            log.info("process %s did not stop on SIGTERM within %.0f s: SIGKILL", proc.pid, grace_s)
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
    return [p.pid for p in procs]


def wait_gone(pid: int, create_time: float, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    rec = ProcessRecord(name="", pid=pid, create_time=create_time, cmdline=())
    while time.monotonic() < deadline:
        if live_process(rec) is None:
            return True
        time.sleep(0.1)
    return live_process(rec) is None
