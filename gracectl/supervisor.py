"""The process supervisor: one supervisord per GRACECTL_HOME, driven over its XML-RPC socket.

Programs never restart on their own (`autorestart=false`): a node killed by a fault stays
down until gracectl (rollback or `up`) starts it again.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from supervisor.xmlrpc import SupervisorTransport

from gracectl.errors import ComponentTimeout, GracectlError
from gracectl.layout import Layout
from gracectl.processes import ProcessRecord, live_process, record, wait_gone
from gracectl.waiting import wait_until

log = logging.getLogger(__name__)


# supervisord states in which the program's process exists (STARTING: up < startsecs).
ALIVE_STATES = ("STARTING", "RUNNING")
# States of a program that was started and is no longer running (nobody stopped it).
DEAD_STATES = ("EXITED", "FATAL", "BACKOFF")


@dataclass(frozen=True)
class Program:
    name: str
    command: list[str]
    directory: Path
    user: str | None
    priority: int
    environment: dict[str, str] = field(default_factory=dict)
    stopwaitsecs: int = 30


def _quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "-_./:=,@+" for c in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_config(layout: Layout, programs: list[Program]) -> str:
    lines = [
        "[unix_http_server]",
        f"file={layout.supervisor_socket}",
        "chmod=0700",
        "",
        "[supervisord]",
        f"logfile={layout.logs / 'supervisord.log'}",
        "logfile_maxbytes=10MB",
        "logfile_backups=2",
        f"pidfile={layout.supervisor_pidfile}",
        f"childlogdir={layout.logs}",
        f"identifier=gracectl:{layout.home}",
        "nodaemon=false",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{layout.supervisor_socket}",
    ]
    for prog in programs:
        lines += [
            "",
            f"[program:{prog.name}]",
            "command=" + " ".join(_quote(a) for a in prog.command),
            f"directory={prog.directory}",
            f"priority={prog.priority}",
            "autostart=false",
            "autorestart=false",
            "startsecs=1",
            "startretries=2",
            "stopsignal=TERM",
            f"stopwaitsecs={prog.stopwaitsecs}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={layout.node_log(prog.name)}",
            "stdout_logfile_maxbytes=20MB",
            "stdout_logfile_backups=2",
        ]
        if prog.user:
            lines.append(f"user={prog.user}")
        if prog.environment:
            env = ",".join(f'{k}="{v}"' for k, v in prog.environment.items())
            lines.append(f"environment={env}")
    return "\n".join(lines) + "\n"


class Supervisor:
    """A handle on the supervisord of one state directory."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    # -- the daemon itself ---------------------------------------------------------------
    def daemon_record(self) -> ProcessRecord | None:
        """supervisord's process, if alive and truly ours (pidfile PID + command line)."""
        try:
            pid = int(self.layout.supervisor_pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        rec = record("supervisord", pid)
        if rec is None or not any(str(self.layout.supervisor_conf) in a for a in rec.cmdline):
            return None
        return rec if live_process(rec) else None

    def is_running(self) -> bool:
        return self.daemon_record() is not None and self._rpc_ok()

    def start_daemon(self, timeout_s: float = 20) -> None:
        if self.is_running():
            return
        self.layout.supervisor_socket.unlink(missing_ok=True)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "supervisor.supervisord",
                "-c",
                str(self.layout.supervisor_conf),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode != 0:
            raise GracectlError(
                f"supervisord failed to start: {(done.stderr or done.stdout).strip()[-300:]}",
                hint=f"see {self.layout.logs / 'supervisord.log'}",
            )
        if not wait_until(self._rpc_ok, timeout_s):
            raise ComponentTimeout(
                "supervisord",
                f"no answer on {self.layout.supervisor_socket} after {timeout_s:.0f} s",
                hint=f"see {self.layout.logs / 'supervisord.log'}",
            )

    def shutdown(self, timeout_s: float = 120) -> None:
        rec = self.daemon_record()
        if rec is None:
            return
        try:
            self._proxy().supervisor.shutdown()
        except (OSError, xmlrpc.client.Fault) as exc:
            log.warning("supervisord shutdown over RPC failed (%s); sending SIGTERM", exc)
            proc = live_process(rec)
            if proc:
                proc.terminate()
        if not wait_gone(rec.pid, rec.create_time, timeout_s):
            proc = live_process(rec)
            if proc:
                proc.kill()

    # -- programs ------------------------------------------------------------------------
    def _proxy(self) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{self.layout.supervisor_socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def _rpc_ok(self) -> bool:
        try:
            return cast(str, self._proxy().supervisor.getState()["statename"]) == "RUNNING"
        except (OSError, xmlrpc.client.Error):
            return False

    def program_info(self) -> dict[str, dict[str, Any]]:
        """name -> supervisord's process info (statename, pid, ...); empty when not running."""
        try:
            infos = self._proxy().supervisor.getAllProcessInfo()
        except (OSError, xmlrpc.client.Error):
            return {}
        return {info["name"]: info for info in infos}

    def running_programs(self) -> set[str]:
        return {n for n, i in self.program_info().items() if i["statename"] in ALIVE_STATES}

    def start(self, name: str) -> None:
        try:
            self._proxy().supervisor.startProcess(name, False)
        except xmlrpc.client.Fault as exc:
            if "ALREADY_STARTED" not in exc.faultString:
                raise GracectlError(
                    f"supervisord could not start {name}: {exc.faultString}",
                    hint=f"see {self.layout.node_log(name)}",
                ) from exc

    def stop(self, name: str) -> None:
        try:
            self._proxy().supervisor.stopProcess(name, True)
        except xmlrpc.client.Fault as exc:
            if "NOT_RUNNING" not in exc.faultString:
                raise GracectlError(
                    f"supervisord could not stop {name}: {exc.faultString}"
                ) from exc

    def stop_together(self, names: list[str], timeout_s: float = 120) -> None:
        """Ask every program in `names` to stop at once, then wait for all of them."""
        if len(names) == 1:
            self.stop(names[0])
            return
        for name in names:
            try:
                self._proxy().supervisor.stopProcess(name, False)
            except xmlrpc.client.Fault as exc:
                if "NOT_RUNNING" not in exc.faultString:
                    raise GracectlError(
                        f"supervisord could not stop {name}: {exc.faultString}"
                    ) from exc

        def all_stopped() -> bool:
            info = self.program_info()
            return not any(
                info.get(n, {}).get("statename") in (*ALIVE_STATES, "STOPPING") for n in names
            )

        if not wait_until(all_stopped, timeout_s, interval_s=0.2):
            log.warning("programs %s still stopping after %.0f s", ", ".join(names), timeout_s)

    def process_records(self) -> list[ProcessRecord]:
        records = []
        daemon = self.daemon_record()
        if daemon:
            records.append(daemon)
        for name, info in self.program_info().items():
            if info.get("pid"):
                rec = record(name, int(info["pid"]))
                if rec:
                    records.append(rec)
        return records
