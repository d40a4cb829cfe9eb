"""The event load of a bus chaos run, shaped like gracectl.workload so a scenario runner can
use either: a spec, a handle on a subprocess (`python -m gracectl.event_workload`) that
streams JSON-lines histories of EventOps into <run_dir>/events/, and a final read.

The load is a subprocess because confluent-kafka's calls block (gracectl.bus.base): inside
it each producer is a thread with its own bus; consumers are threads, or their own OS
processes (listed in <run_dir>/consumers.json) so a fault can SIGKILL one. What runs inside
the subprocess lives in gracectl.event_workload_run.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import psutil

from gracectl.event_workload_read import (
    final_event_read,
    history_files,
    read_event_ops,
    stored_event_read,
)
from gracectl.event_workload_spec import (
    CONSUMERS_NAME,
    HISTORY_DIR_NAME,
    OUTPUT_NAME,
    PASSED_ENV_PREFIXES,
    SPEC_NAME,
    EventWorkloadError,
    EventWorkloadResult,
    EventWorkloadSpec,
)
from gracectl.processes import ProcessRecord, live_process, record
from gracectl.waiting import timeout_multiplier

log = logging.getLogger(__name__)

__all__ = [
    "EventWorkload",
    "EventWorkloadError",
    "EventWorkloadResult",
    "EventWorkloadSpec",
    "final_event_read",
    "read_event_ops",
    "start_event_workload",
    "stored_event_read",
]


def connection_subset(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(PASSED_ENV_PREFIXES)}


class EventWorkload:
    """The event load as a subprocess: `with EventWorkload(spec, env, run_dir) as wl: ...`.

    `connection` is the stack's connection environment (`gracectl env --json`,
    gracectl.stack.connection_env). Leaving the `with` block stops the load if it still
    runs, consumer processes included, so no process outlives the caller.
    """

    def __init__(
        self,
        spec: EventWorkloadSpec,
        connection: Mapping[str, str],
        run_dir: Path,
        python: str = sys.executable,
    ) -> None:
        self.connection = connection_subset(connection)
        if not self.connection:
            raise EventWorkloadError(
                "event workload: no bus settings (GRACE_REDIS_*, GRACE_KAFKA_BOOTSTRAP)",
                hint="pass `gracectl env --json`",
            )
        self.spec = spec
        self.run_dir = run_dir
        self.python = python
        self._popen: subprocess.Popen[bytes] | None = None
        self._proc: psutil.Process | None = None
        self._children: list[psutil.Process] = []
        self._result: EventWorkloadResult | None = None

    # -- paths -----------------------------------------------------------------------------
    @property
    def history_dir(self) -> Path:
        return self.run_dir / HISTORY_DIR_NAME

    @property
    def spec_path(self) -> Path:
        return self.run_dir / SPEC_NAME

    @property
    def consumers_path(self) -> Path:
        return self.run_dir / CONSUMERS_NAME

    @property
    def output_path(self) -> Path:
        return self.run_dir / OUTPUT_NAME

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    def history_paths(self) -> tuple[Path, ...]:
        return history_files(self.history_dir)

    def consumer_records(self) -> tuple[ProcessRecord, ...]:
        """Identity records of the consumer processes, as the load wrote them when it
        started them (an empty tuple until then, or with consumer threads)."""
        try:
            listed = json.loads(self.consumers_path.read_text())
        except (OSError, ValueError):
            return ()
        return tuple(ProcessRecord.model_validate(item) for item in listed)

    def consumer_pids(self) -> list[int]:
        """PIDs of the consumer processes still alive (identity-checked): what a fault may
        SIGKILL."""
        return [r.pid for r in self.consumer_records() if live_process(r) is not None]

    def records(self) -> tuple[ProcessRecord, ...]:
        """Identity records of the load process and its children (consumer processes), for
        whoever must stop them if this process dies (the fault ledger)."""
        procs = [self._proc, *self._live_children()] if self._proc is not None else []
        found = (record("event-workload", p.pid) for p in procs)
        return tuple(r for r in found if r is not None)

    # -- lifecycle -------------------------------------------------------------------------
    def command(self) -> list[str]:
        return [self.python, "-m", "gracectl.event_workload",
                "--spec", str(self.spec_path), "--run-dir", str(self.run_dir)]  # fmt: skip

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GRACE_", "GRACECTL_"))}
        env.update(self.connection)
        env["PYTHONUNBUFFERED"] = "1"
        if "GRACECTL_TIMEOUT_MULTIPLIER" in os.environ:
            env["GRACECTL_TIMEOUT_MULTIPLIER"] = os.environ["GRACECTL_TIMEOUT_MULTIPLIER"]
        return env

    def start(self) -> None:
        if self._popen is not None:
            raise EventWorkloadError("event workload: already started")
        self.history_dir.mkdir(parents=True, exist_ok=True)
        self.spec_path.write_text(self.spec.model_dump_json(indent=2) + "\n")
        with self.output_path.open("ab") as out:
            self._popen = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                cwd=self.run_dir,
                start_new_session=True,  # a Ctrl-C for the caller is not the load's
            )
        try:
            self._proc = psutil.Process(self._popen.pid)
        except psutil.NoSuchProcess:
            self._proc = None  # exited already; wait() collects its exit code
        spec = self.spec
        log.info(
            "event workload started (pid %d): %d producers at %g events/s on %s, %d consumer "
            "%s in group %s, for %g s -> %s",
            self._popen.pid, spec.producers, spec.produce_rate, spec.topic, spec.consumers,
            "processes" if spec.consumer_processes else "threads", spec.group,
            spec.duration_s, self.run_dir,
        )  # fmt: skip

    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def wait(self, timeout_s: float | None = None) -> EventWorkloadResult:
        """Until the load ends by itself; past `timeout_s` (default: spec.run_bound_s times
        the timeout multiplier) it is stopped, and the result says so."""
        popen = self._require_started()
        if self._result is not None:
            return self._result
        if timeout_s is None:
            timeout_s = self.spec.run_bound_s * timeout_multiplier()
        try:
            popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("event workload (pid %d) still running after %.0f s: stopping it",
                        popen.pid, timeout_s)  # fmt: skip
            return self.stop()
        return self._finish(stopped=False, killed=False)

    def stop(self, grace_s: float = 10.0) -> EventWorkloadResult:
        """SIGTERM (producers finish their in-flight produce, consumers their read, consumer
        processes are stopped the same way), then SIGKILL after `grace_s`; children are
        reaped either way."""
        popen = self._require_started()
        if self._result is not None:
            return self._result
        if popen.poll() is not None:
            return self._finish(stopped=False, killed=False)
        self._children = self._live_children()
        log.info("stopping the event workload (pid %d)", popen.pid)
        popen.send_signal(signal.SIGTERM)
        killed = False
        try:
            popen.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            log.warning("event workload (pid %d) ignored SIGTERM for %.0f s: SIGKILL",
                        popen.pid, grace_s)  # fmt: skip
            popen.kill()
            popen.wait(timeout=10)
            killed = True
        return self._finish(stopped=True, killed=killed)

    def _require_started(self) -> subprocess.Popen[bytes]:
        if self._popen is None:
            raise EventWorkloadError("event workload: not started")
        return self._popen

    def _live_children(self) -> list[psutil.Process]:
        if self._proc is None:
            return []
        try:
            return self._proc.children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def _reap_children(self) -> None:
        """Kill what outlived the load: children seen while it lived (psutil handles check
        PID and start time) and consumer processes it listed (identity-checked records)."""
        leftovers = {c.pid: c for c in self._children if c.is_running()}
        for rec in self.consumer_records():
            proc = live_process(rec)
            if proc is not None:
                leftovers.setdefault(proc.pid, proc)
        for child in leftovers.values():
            log.warning("event workload child %d outlived its parent: killing it", child.pid)
            try:
                child.kill()
            except psutil.NoSuchProcess:
                continue
        psutil.wait_procs(list(leftovers.values()), timeout=5)

    def _finish(self, stopped: bool, killed: bool) -> EventWorkloadResult:
        popen = self._require_started()
        self._reap_children()
        code = popen.returncode
        exit_code = None if killed or code is None or code < 0 else code
        if exit_code not in (0, None):
            log.error("event workload exited with %s; see %s", exit_code, self.output_path)
        self._result = EventWorkloadResult(
            history_dir=self.history_dir,
            history_paths=self.history_paths(),
            output_path=self.output_path,
            exit_code=exit_code,
            stopped=stopped,
            killed=killed,
        )
        log.info("event workload (pid %d) done: exit %s, %d history file(s)",
                 popen.pid, exit_code, len(self._result.history_paths))  # fmt: skip
        return self._result

    def __enter__(self) -> EventWorkload:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.running():
            self.stop()
        elif self._popen is not None and self._result is None:
            self._finish(stopped=False, killed=False)


def start_event_workload(
    spec: EventWorkloadSpec, run_dir: Path, env: Mapping[str, str]
) -> EventWorkload:
    """Start the event load; the caller must `wait()` and/or `stop()` it."""
    workload = EventWorkload(spec, env, run_dir)
    workload.start()
    return workload


if __name__ == "__main__":
    from gracectl.event_workload_run import main

    sys.exit(main())
