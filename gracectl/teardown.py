"""`down`: stop everything a stack runs, proving each process's identity before signalling
it, and sweep whatever outlived its supervisor; data is kept unless purged."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from gracectl.components.base import StackContext
from gracectl.components.postgres import Postgres
from gracectl.config import Settings
from gracectl.faults.ledger import heal_pending
from gracectl.layout import Layout
from gracectl.processes import ProcessRecord, live_process, processes_mentioning, terminate
from gracectl.registry import components
from gracectl.secrets_store import load
from gracectl.stack import Progress, build_context, no_progress, resolve_quietly
from gracectl.state_file import (
    recorded_processes,
    settings_of_running_stack,
    write_state,
)
from gracectl.supervisor import Supervisor

log = logging.getLogger(__name__)


@dataclass
class DownResult:
    stopped: list[str] = field(default_factory=list)
    leftovers_killed: list[int] = field(default_factory=list)
    purged: bool = False


def _stop_order(ctx: StackContext, names: set[str]) -> list[list[str]]:
    """Batches to stop, in reverse start order; one node at a time, except kinds that must
    stop together (a quorum that cannot shut its last member down cleanly alone), and
    PostgreSQL replicas before the leader to avoid a needless failover."""
    batches: list[list[str]] = []
    for component in reversed(components()):
        progs = [p.name for p in component.programs(ctx) if p.name in names]
        if isinstance(component, Postgres):
            leader = component.leader(ctx)
            progs.sort(key=lambda n: leader is not None and n == leader.name)
        if component.stop_together and progs:
            batches.append(progs)
        else:
            batches.extend([name] for name in progs)
    return batches


def down(settings: Settings, purge: bool = False, progress: Progress = no_progress) -> DownResult:
    settings = settings_of_running_stack(settings)
    layout = Layout(settings.home_path)
    result = DownResult()
    if not layout.home.exists():
        return result
    heal_pending(layout, restart_killed=False)
    supervisor = Supervisor(layout)
    records = recorded_processes(layout)
    if supervisor.is_running():
        records += supervisor.process_records()
        secrets = load(layout.secrets_file)
        ctx = build_context(settings, secrets, resolve_quietly(settings), supervisor)
        for batch in _stop_order(ctx, supervisor.running_programs()):
            progress("stopping", ", ".join(batch))
            supervisor.stop_together(batch)
            result.stopped.extend(batch)
        progress("stopping", "supervisord")
        supervisor.shutdown()
    result.leftovers_killed = _sweep(layout, records)
    progress("stopping", None)
    if purge:
        shutil.rmtree(layout.home)
        layout.supervisor_socket.unlink(missing_ok=True)
        result.purged = True
    elif layout.state_file.exists():
        write_state(layout, settings, [])
    return result


def _ourselves() -> set[int]:
    pids = {os.getpid()}
    with contextlib.suppress(psutil.Error):
        pids.update(p.pid for p in psutil.Process().parents())
    return pids


def _sweep(layout: Layout, records: list[ProcessRecord]) -> list[int]:
    """Stop anything of this stack still alive: recorded PIDs (identity checked) and
    processes whose command line names this state directory (a postmaster orphaned by a
    killed Patroni, for instance)."""
    exclude = _ourselves()
    leftovers: dict[int, psutil.Process] = {}
    for rec in records:
        proc = live_process(rec)
        if proc is not None and proc.pid not in exclude:
            leftovers[proc.pid] = proc
    for proc in processes_mentioning(str(layout.home) + "/"):
        if proc.pid not in exclude:
            leftovers[proc.pid] = proc
    if not leftovers:
        return []
    log.warning("stopping %d leftover process(es): %s", len(leftovers), sorted(leftovers))
    return terminate(leftovers.values())


def stack_processes(home: Path) -> list[psutil.Process]:
    """Processes of the stack under `home` still alive (for tests and `down` verification)."""
    layout = Layout(home)
    found = {p.pid: p for p in processes_mentioning(str(layout.home) + "/")}
    for rec in recorded_processes(layout):
        proc = live_process(rec)
        if proc is not None:
            found[proc.pid] = proc
    found.pop(os.getpid(), None)
    return list(found.values())
