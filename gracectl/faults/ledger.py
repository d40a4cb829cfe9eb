"""The ledger of applied faults, kept in the state directory.

Each fault is written here *before* it is applied, so that if gracectl dies mid-run the
next gracectl command (and `down`) can heal it: resume what was paused, restart what was
killed. Processes are identified by PID and start time, never by PID alone.
"""

from __future__ import annotations

import json
import logging
import signal
import time
import uuid
from pathlib import Path
from typing import Literal

import psutil
from pydantic import BaseModel, ConfigDict, ValidationError

from gracectl.layout import Layout
from gracectl.processes import ProcessRecord, live_process
from gracectl.supervisor import Supervisor

log = logging.getLogger(__name__)

FaultAction = Literal["killed", "paused", "restarted"]


class AppliedFault(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    fault: str
    target: str
    action: FaultAction
    processes: tuple[ProcessRecord, ...] = ()
    # supervisord program to start again when healing a kill (None: it heals on its own).
    restart_program: str | None = None
    at: float
    # The process running the scenario; its workload subprocesses are stopped when healing.
    owner: ProcessRecord | None = None
    workload: tuple[ProcessRecord, ...] = ()
    # Processes left behind by the fault that must not outlive it (orphaned backends).
    reap_on_heal: tuple[ProcessRecord, ...] = ()


def new_fault(
    fault: str,
    target: str,
    action: FaultAction,
    processes: list[ProcessRecord],
    restart_program: str | None,
) -> AppliedFault:
    return AppliedFault(
        id=uuid.uuid4().hex[:12],
        fault=fault,
        target=target,
        action=action,
        processes=tuple(processes),
        restart_program=restart_program,
        at=time.time(),
    )


class Ledger:
    def __init__(self, layout: Layout) -> None:
        self.path: Path = layout.run / "faults.json"
        self.layout = layout

    def pending(self) -> list[AppliedFault]:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            log.warning("fault ledger %s is unreadable; treating it as empty", self.path)
            return []
        faults = []
        for item in raw if isinstance(raw, list) else []:
            try:
                faults.append(AppliedFault.model_validate(item))
            except ValidationError:
                continue
        return faults

    def _write(self, faults: list[AppliedFault]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps([f.model_dump(mode="json") for f in faults], indent=2))
        tmp.replace(self.path)

    def add(self, fault: AppliedFault) -> None:
        self._write([*self.pending(), fault])

    def replace(self, fault: AppliedFault) -> None:
        self._write([fault if f.id == fault.id else f for f in self.pending()])

    def remove(self, fault_id: str) -> None:
        self._write([f for f in self.pending() if f.id != fault_id])


def resume(records: tuple[ProcessRecord, ...] | list[ProcessRecord]) -> list[int]:
    resumed = []
    for rec in records:
        proc = live_process(rec)
        if proc is None:
            continue
        try:
            proc.send_signal(signal.SIGCONT)
            resumed.append(proc.pid)
        except psutil.Error:
            continue
    return resumed


def reap(records: tuple[ProcessRecord, ...]) -> list[int]:
    """SIGKILL the still-live processes among `records` (identity checked)."""
    killed = []
    for rec in records:
        proc = live_process(rec)
        if proc is None:
            continue
        try:
            proc.kill()
            killed.append(proc.pid)
        except psutil.Error:
            continue
    return killed


def heal(
    layout: Layout,
    fault: AppliedFault,
    supervisor: Supervisor | None = None,
    restart_killed: bool = True,
) -> str:
    """Undo one fault; returns one sentence saying what was done. Idempotent."""
    supervisor = supervisor or Supervisor(layout)
    reaped = reap(fault.reap_on_heal)
    done = f"reaped {len(reaped)} process(es) orphaned by the fault; " if reaped else ""
    if fault.action == "paused":
        pids = resume(fault.processes)
        return done + f"resumed {fault.target} ({len(pids)} process(es))"
    if fault.action == "killed" and fault.restart_program and restart_killed:
        if supervisor.is_running() and fault.restart_program not in supervisor.running_programs():
            supervisor.start(fault.restart_program)
            return done + f"restarted {fault.restart_program}"
        return done + f"{fault.restart_program} already running"
    return done + f"nothing else to undo for {fault.fault} on {fault.target}"


def heal_pending(layout: Layout, restart_killed: bool = True) -> list[str]:
    """Heal faults left by a gracectl that died mid-run. Called by every stack command
    (`down` only resumes paused processes: it is about to stop everything anyway)."""
    ledger = Ledger(layout)
    faults = ledger.pending()
    if not faults:
        return []
    notes = []
    supervisor = Supervisor(layout)
    # Resume paused processes first: a stopped process cannot even be stopped cleanly.
    for fault in sorted(faults, key=lambda f: f.action != "paused"):
        if fault.owner is not None and live_process(fault.owner) is not None:
            continue  # its run is still going and will heal it
        for proc in filter(None, (live_process(w) for w in fault.workload)):
            proc.kill()
        notes.append(
            f"healed {fault.fault} on {fault.target} left by an interrupted run: "
            + heal(layout, fault, supervisor)
        )
        ledger.remove(fault.id)
    for note in notes:
        log.warning(note)
    return notes
