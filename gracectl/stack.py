"""The local stack's lifecycle on top of supervisord: `up`, `status`, waiting for health.

`up` starts one tier at a time and waits until each is really ready (quorum, leader,
streaming replicas, proxy routing, Sentinel agreement). `down` lives in `teardown`.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import ValidationError

from gracectl.components.base import Component, StackContext
from gracectl.components.postgres import SUPERUSER, Postgres
from gracectl.config import Settings
from gracectl.errors import (
    ComponentTimeout,
    ConfigError,
    EnvironmentProblem,
    GracectlError,
    StackNotRunning,
)
from gracectl.faults.ledger import heal_pending
from gracectl.layout import Layout
from gracectl.registry import components
from gracectl.secrets_store import Secrets, load, load_or_create
from gracectl.service_user import ServiceUser, resolve
from gracectl.state_file import read_state, write_state

# Part of this module's API, kept where callers already look for them.
from gracectl.state_file import recorded_profile as recorded_profile
from gracectl.state_file import settings_of_running_stack as settings_of_running_stack
from gracectl.status import ComponentStatus, Endpoints, StackStatus
from gracectl.supervisor import ALIVE_STATES, DEAD_STATES, Supervisor, render_config
from gracectl.topology import (
    Topology,
    check_ports_free,
    ephemeral_overlap,
    ephemeral_port_range,
    plan,
)
from gracectl.waiting import wait_until

log = logging.getLogger(__name__)

#: While a component is not ready, it is nudged this often (see Component.nudge).
NUDGE_EVERY_S = 3.0
#: progress(step, detail): detail is None once the step is done.
Progress = Callable[[str, str | None], None]


def no_progress(step: str, detail: str | None) -> None:
    pass


@dataclass
class UpResult:
    already_running: bool
    started: list[str] = field(default_factory=list)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


# -- context -----------------------------------------------------------------------------
def build_context(
    settings: Settings, secrets: Secrets, user: ServiceUser, supervisor: Supervisor
) -> StackContext:
    pids = {
        name: int(info["pid"])
        for name, info in supervisor.program_info().items()
        if info.get("statename") in ALIVE_STATES and info.get("pid")
    }
    return StackContext(
        settings=settings,
        topology=plan(settings),
        layout=Layout(settings.home_path),
        secrets=secrets,
        user=user,
        pids=pids,
    )


def _check_binaries(ctx: StackContext, kinds: list[Component]) -> None:
    for component in kinds:
        for binary in component.binaries(ctx):
            found = os.access(binary, os.X_OK) if "/" in binary else shutil.which(binary)
            if not found:
                raise EnvironmentProblem(
                    f"{component.kind}: binary {binary!r} not found",
                    hint="run scripts/setup.sh to install the stack's packages",
                )


def _check_reachable(ctx: StackContext) -> None:
    if ctx.user.name is None:
        return
    ok, _ = ctx.user.can_run(["test", "-w", str(ctx.layout.data)])
    if not ok:
        raise EnvironmentProblem(
            f"state directory {ctx.layout.home} is not reachable by service user {ctx.user.name}",
            hint="put GRACECTL_HOME under a path every user can traverse (e.g. /var/tmp/...)",
        )


def _check_same_topology(settings: Settings, layout: Layout, running: bool) -> None:
    state = read_state(layout)
    if state is None:
        return
    try:
        previous = Settings.model_validate(state["settings"])
    except (KeyError, ValidationError):
        return
    if plan(previous) != plan(settings):
        what = "is up" if running else "holds data"
        raise ConfigError(
            f"{layout.home} {what} with profile {previous.profile!r} and a different topology "
            f"than the requested {settings.profile!r}",
            hint="`gracectl down` (and --purge to drop its data) first, or use another "
            "GRACECTL_HOME",
        )


# -- up ----------------------------------------------------------------------------------
def up(settings: Settings, progress: Progress = no_progress) -> UpResult:
    started_at = time.monotonic()
    layout = Layout(settings.home_path)
    supervisor = Supervisor(layout)
    supervisor_running = supervisor.is_running()
    _check_same_topology(settings, layout, supervisor_running)
    layout.create()
    heal_pending(layout)
    user = resolve(settings.run_as)
    user.chown(layout.data)
    secrets = load_or_create(layout.secrets_file)
    kinds = components()
    ctx = build_context(settings, secrets, user, supervisor)
    _check_binaries(ctx, kinds)
    _check_reachable(ctx)
    for component in kinds:
        if isinstance(component, Postgres):
            component.check_runnable(ctx)

    running = supervisor.running_programs() if supervisor_running else set()
    all_programs = [p for c in kinds for p in c.programs(ctx)]
    missing = [p.name for p in all_programs if p.name not in running]
    if not missing and all(c.not_ready_reason(ctx) is None for c in kinds):
        # Re-apply what can change on a live stack (Patroni's dynamic config, e.g. the mode).
        for component in kinds:
            component.after_ready(ctx)
            _wait_ready(component, ctx, settings.startup_timeout_s, progress)
        write_state(layout, settings, supervisor.process_records())
        return UpResult(already_running=True, seconds=time.monotonic() - started_at)

    check_ports_free(ctx.topology, skip_nodes=running)
    warnings = _port_warnings(ctx.topology)
    for component in kinds:
        component.write_configs(ctx)
    if not supervisor_running:
        layout.supervisor_conf.write_text(render_config(layout, all_programs))
        progress("supervisord", "starting")
        supervisor.start_daemon()
        progress("supervisord", None)
    write_state(layout, settings, supervisor.process_records())

    for component in kinds:
        names = [p.name for p in component.programs(ctx)]
        if not names:
            continue  # a kind this configuration does not run (Kafka with Redis Streams)
        for name in names:
            if name not in running:
                _start_program(supervisor, layout, name)
        ctx = build_context(settings, secrets, user, supervisor)
        write_state(layout, settings, supervisor.process_records())
        _wait_ready(component, ctx, settings.startup_timeout_s, progress, supervisor)
        component.after_ready(ctx)
        _wait_ready(component, ctx, settings.startup_timeout_s, progress, supervisor)
        progress(component.waiting_for, None)

    write_state(layout, settings, supervisor.process_records())
    return UpResult(
        already_running=False,
        started=missing,
        seconds=time.monotonic() - started_at,
        warnings=warnings,
    )


def _port_warnings(topology: Topology) -> list[str]:
    overlap = ephemeral_overlap(topology)
    span = ephemeral_port_range()
    if not overlap or span is None:
        return []
    return [
        f"ports {min(overlap)}-{max(overlap)} lie in the ephemeral range {span[0]}-{span[1]}: "
        "an outgoing connection can take one before its server binds it; "
        f"a base_port below {span[0] - len(topology.all_ports())} avoids that"
    ]


def _start_program(supervisor: Supervisor, layout: Layout, name: str) -> None:
    try:
        supervisor.start(name)
    except GracectlError as exc:
        raise ComponentTimeout(
            name,
            f"failed to start ({exc.message})",
            hint=f"see {layout.node_log(name)}",
            details=layout.log_tail(name),
        ) from exc


def _wait_ready(
    component: Component,
    ctx: StackContext,
    timeout_s: float,
    progress: Progress,
    supervisor: Supervisor | None = None,
) -> None:
    """Poll until the component is ready. With `supervisor`, a program of this component
    that has died (exited, or given up restarting) fails the wait at once, with its log."""
    last_reason: list[str] = ["not probed yet"]
    next_nudge = [time.monotonic() + NUDGE_EVERY_S]
    names = {p.name for p in component.programs(ctx)}

    def ready() -> bool:
        if supervisor is not None:
            _fail_if_dead(supervisor, ctx.layout, names)
        reason = component.not_ready_reason(ctx)
        if reason is None:
            return True
        if time.monotonic() >= next_nudge[0]:
            component.nudge(ctx)
            next_nudge[0] = time.monotonic() + NUDGE_EVERY_S
        if reason != last_reason[0]:
            log.info("%s: %s", component.kind, reason)
        last_reason[0] = reason
        progress(component.waiting_for, reason)
        return False

    if wait_until(ready, timeout_s, interval_s=0.25):
        return
    statuses = component.probe(ctx)
    culprit = next((s.name for s in statuses if s.state != "running"), statuses[0].name)
    raise ComponentTimeout(
        component.kind,
        f"not ready after {timeout_s:.0f} s: {last_reason[0]}",
        hint=f"see {ctx.layout.node_log(culprit)}; `gracectl down` stops what did start",
        details=f"last lines of {ctx.layout.node_log(culprit)}:\n{ctx.layout.log_tail(culprit)}",
    )


def _fail_if_dead(supervisor: Supervisor, layout: Layout, names: set[str]) -> None:
    for name, info in supervisor.program_info().items():
        if name in names and info.get("statename") in DEAD_STATES:
            raise ComponentTimeout(
                name,
                f"exited during start-up ({info['statename']}: "
                f"{info.get('spawnerr') or 'see its log'})",
                hint=f"see {layout.node_log(name)}; `gracectl down` stops what did start",
                details=f"last lines of {layout.node_log(name)}:\n{layout.log_tail(name)}",
            )


def wait_healthy(settings: Settings, timeout_s: float, progress: Progress = no_progress) -> None:
    """Wait until every component is ready again (after a fault), or raise ComponentTimeout."""
    layout = Layout(settings.home_path)
    supervisor = Supervisor(layout)
    secrets = load(layout.secrets_file)
    for component in components():
        ctx = build_context(settings, secrets, resolve_quietly(settings), supervisor)
        _wait_ready(component, ctx, timeout_s, progress)


def set_replication_mode(settings: Settings, mode: str, timeout_s: float) -> Settings:
    """Switch PostgreSQL between synchronous and asynchronous on the live cluster."""
    changed = settings.model_copy(
        update={"postgres": settings.postgres.model_copy(update={"replication_mode": mode})}
    )
    layout = Layout(changed.home_path)
    supervisor = Supervisor(layout)
    ctx = build_context(changed, load(layout.secrets_file), resolve_quietly(changed), supervisor)
    postgres = Postgres()
    postgres.after_ready(ctx)
    _wait_ready(postgres, ctx, timeout_s, no_progress)
    return changed


# -- status ------------------------------------------------------------------------------
def _require_stack(settings: Settings) -> tuple[Settings, Layout]:
    settings = settings_of_running_stack(settings)
    layout = Layout(settings.home_path)
    if not layout.state_file.exists() or not layout.secrets_file.exists():
        raise StackNotRunning(
            f"no gracectl stack at {layout.home}", hint="run `gracectl up` (or set GRACECTL_HOME)"
        )
    return settings, layout


def endpoints(settings: Settings, topology: Topology) -> Endpoints:
    proxy = topology.of_kind("haproxy")[0]
    return Endpoints(
        postgres_rw=proxy.endpoint("rw"),
        postgres_ro=proxy.endpoint("ro"),
        postgres_database=settings.postgres.database,
        postgres_user=settings.postgres.app_user,
        redis_sentinels=[n.endpoint("sentinel") for n in topology.of_kind("sentinel")],
        redis_master_name=settings.redis.master_name,
        haproxy_stats=f"http://{proxy.endpoint('stats')}/",
        kafka_bootstrap=",".join(n.endpoint("kafka") for n in topology.of_kind("kafka")) or None,
    )


def status(settings: Settings) -> StackStatus:
    settings, layout = _require_stack(settings)
    heal_pending(layout)
    supervisor = Supervisor(layout)
    ctx = build_context(settings, load(layout.secrets_file), resolve_quietly(settings), supervisor)
    probed: list[ComponentStatus] = []
    for component in components():
        probed.extend(component.probe(ctx))
    return StackStatus(
        profile=settings.profile,
        home=str(layout.home),
        supervisor="running" if supervisor.is_running() else "stopped",
        replication_mode=settings.postgres.replication_mode,
        bus=settings.bus,
        components=probed,
        endpoints=endpoints(settings, ctx.topology),
    )


def resolve_quietly(settings: Settings) -> ServiceUser:
    """Probing needs no service user; do not fail `status` or `down` for a missing one."""
    try:
        return resolve(settings.run_as)
    except EnvironmentProblem:
        return ServiceUser(None, os.getuid(), os.getgid())


def connection_env(settings: Settings) -> dict[str, str]:
    """Environment variables a shell or an application uses to reach the stack."""
    settings, layout = _require_stack(settings)
    secrets = load(layout.secrets_file)
    ep = endpoints(settings, plan(settings))
    pg = settings.postgres
    dsn = f"postgresql://{pg.app_user}:{secrets.pg_app}@{{}}/{pg.database}"
    kafka = {"GRACE_KAFKA_BOOTSTRAP": ep.kafka_bootstrap} if ep.kafka_bootstrap else {}
    return {
        "GRACE_PG_RW_DSN": dsn.format(ep.postgres_rw),
        "GRACE_PG_RO_DSN": dsn.format(ep.postgres_ro),
        "GRACE_PG_ADMIN_DSN": (
            f"postgresql://{SUPERUSER}:{secrets.pg_superuser}@{ep.postgres_rw}/{pg.database}"
        ),
        "GRACE_REDIS_SENTINELS": ",".join(ep.redis_sentinels),
        "GRACE_REDIS_MASTER_NAME": ep.redis_master_name,
        "GRACE_REDIS_PASSWORD": secrets.redis,
        "GRACE_BUS": settings.bus,
        **kafka,
    }
