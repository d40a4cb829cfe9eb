"""A load generator run as a child process: started detached from the caller's terminal,
waited for with a bound, stopped with SIGTERM then SIGKILL, its descendants reaped by
identity so nothing outlives the run. `Workload` (Locust) and `EventWorkload` build on it."""

from __future__ import annotations

import logging
import signal
import subprocess
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Generic, Self, TypeVar

import psutil

from gracectl.errors import GracectlError
from gracectl.processes import ProcessRecord, record

log = logging.getLogger(__name__)
ResultT = TypeVar("ResultT")


class LoadProcess(ABC, Generic[ResultT]):
    """Subclasses set `label` (how logs and process records name it) and `error_type`."""

    label: ClassVar[str] = "load"
    error_type: ClassVar[type[GracectlError]] = GracectlError

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._popen: subprocess.Popen[bytes] | None = None
        self._proc: psutil.Process | None = None
        self._children: list[psutil.Process] = []
        self._result: ResultT | None = None

    # -- what a subclass says ----------------------------------------------------------------
    @property
    @abstractmethod
    def output_path(self) -> Path:
        """Where the child's stdout and stderr go."""

    @abstractmethod
    def command(self) -> list[str]: ...

    @abstractmethod
    def environment(self) -> dict[str, str]: ...

    @abstractmethod
    def default_timeout_s(self) -> float:
        """How long `wait()` waits when not told: the planned run plus slack."""

    @abstractmethod
    def _make_result(self, exit_code: int | None, stopped: bool, killed: bool) -> ResultT: ...

    def _before_start(self) -> None:
        """Files or tables the child needs before it starts."""
        return None

    def _started(self) -> str:
        """One sentence for the log once the child runs."""
        return f"-> {self.run_dir}"

    def _extra_leftovers(self) -> list[psutil.Process]:
        """Processes of the load that are not its descendants any more (identity-checked)."""
        return []

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    def records(self) -> tuple[ProcessRecord, ...]:
        """Identity records of the load and its children, for whoever must stop them if the
        caller dies (the fault ledger)."""
        procs = [self._proc, *self._live_children()] if self._proc is not None else []
        found = (record(self.label, p.pid) for p in procs)
        return tuple(r for r in found if r is not None)

    def start(self) -> None:
        if self._popen is not None:
            raise self.error_type(f"{self.label}: already started")
        self._before_start()
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
        log.info("%s started (pid %d): %s", self.label, self._popen.pid, self._started())

    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def wait(self, timeout_s: float | None = None) -> ResultT:
        """Until the load ends its schedule; past `timeout_s` it is stopped, and the result
        says so."""
        popen = self._require_started()
        if self._result is not None:
            return self._result
        timeout_s = self.default_timeout_s() if timeout_s is None else timeout_s
        try:
            popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("%s (pid %d) still running after %.0f s: stopping it",
                        self.label, popen.pid, timeout_s)  # fmt: skip
            return self.stop()
        return self._finish(stopped=False, killed=False)

    def stop(self, grace_s: float = 10.0) -> ResultT:
        """SIGTERM (the load records in-flight operations as indeterminate and writes its
        stats), then SIGKILL after `grace_s`; children are reaped either way."""
        popen = self._require_started()
        if self._result is not None:
            return self._result
        if popen.poll() is not None:
            return self._finish(stopped=False, killed=False)
        self._children = self._live_children()
        log.info("stopping %s (pid %d)", self.label, popen.pid)
        popen.send_signal(signal.SIGTERM)
        killed = False
        try:
            popen.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            log.warning("%s (pid %d) ignored SIGTERM for %.0f s: SIGKILL",
                        self.label, popen.pid, grace_s)  # fmt: skip
            popen.kill()
            popen.wait(timeout=10)
            killed = True
        return self._finish(stopped=True, killed=killed)

    def _require_started(self) -> subprocess.Popen[bytes]:
        if self._popen is None:
            raise self.error_type(f"{self.label}: not started")
        return self._popen

    def _live_children(self) -> list[psutil.Process]:
        if self._proc is None:
            return []
        try:
            return self._proc.children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def _reap_children(self) -> None:
        """Children are psutil handles taken while their parent lived: signalling them
        checks their identity (PID and start time), so a recycled PID is never hit."""
        leftovers = {c.pid: c for c in self._children if c.is_running()}
        for proc in self._extra_leftovers():
            leftovers.setdefault(proc.pid, proc)
        for child in leftovers.values():
            log.warning("%s child %d outlived its parent: killing it", self.label, child.pid)
            try:
                child.kill()
            except psutil.NoSuchProcess:
                continue
        psutil.wait_procs(list(leftovers.values()), timeout=5)

    def _finish(self, stopped: bool, killed: bool) -> ResultT:
        popen = self._require_started()
        self._reap_children()
        code = popen.returncode
        exit_code = None if killed or code is None or code < 0 else code
        if exit_code not in (0, None):
            log.error("%s exited with %s; see %s", self.label, exit_code, self.output_path)
        self._result = self._make_result(exit_code, stopped, killed)
        log.info("%s (pid %d) done: exit %s", self.label, popen.pid, exit_code)
        return self._result

    def __enter__(self) -> Self:
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
