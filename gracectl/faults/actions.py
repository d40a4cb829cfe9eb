"""The fault registry: what each named fault does to the live stack.

Targets are resolved when the fault fires, from a fresh status snapshot: `postgres:leader`
is whoever Patroni says leads at that moment, never what the config said.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from gracectl.config import Settings
from gracectl.errors import ConfigError, GracectlError
from gracectl.faults.kafka_leader import kafka_partition_leader
from gracectl.faults.ledger import AppliedFault, FaultAction, Ledger, new_fault
from gracectl.faults.redis_link import drop_replica_links
from gracectl.layout import Layout
from gracectl.processes import ProcessRecord, processes_mentioning, record
from gracectl.status import ComponentStatus, StackStatus
from gracectl.supervisor import Supervisor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaultContext:
    settings: Settings
    layout: Layout
    supervisor: Supervisor
    status: StackStatus
    owner: ProcessRecord | None = None
    workload: tuple[ProcessRecord, ...] = ()
    # Event scenarios: the test topic, and the load's consumer processes.
    topic: str | None = None
    consumer_pids: tuple[int, ...] = ()


def resolve_target(status: StackStatus, target: str) -> ComponentStatus:
    """A node name (`pg-1`) or `kind:role` (`postgres:leader`, `redis:master`, `etcd:member`)."""
    running = [c for c in status.components if c.state != "stopped"]
    if ":" in target:
        kind, role = target.split(":", 1)
        matches = [c for c in running if c.kind == kind and (c.role == role or role == "any")]
    else:
        matches = [c for c in running if c.name == target]
    if not matches:
        names = ", ".join(c.name for c in status.components)
        known = {c.name for c in status.components}
        why = "is not running" if target in known else "matches no node"
        raise ConfigError(
            f"fault target {target!r} {why}",
            hint=f"nodes: {names}; selectors look like postgres:leader, redis:master",
        )
    return matches[0]


def _postmaster(layout: Layout, node: str) -> psutil.Process | None:
    data_dir = str(layout.node_data(node) / "pgdata")
    for proc in processes_mentioning(data_dir):
        try:
            cmd = proc.cmdline()
            if cmd and cmd[0].endswith("/postgres") and "-D" in cmd:
                return proc
        except psutil.Error:
            continue
    return None


def _tree(proc: psutil.Process | None) -> list[psutil.Process]:
    if proc is None:
        return []
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


def node_processes(ctx: FaultContext, node: ComponentStatus) -> list[psutil.Process]:
    """Every process of a node: its supervisord program, descendants, and (PostgreSQL) the
    postmaster with its backends."""
    procs: dict[int, psutil.Process] = {}
    if node.pid:
        with contextlib.suppress(psutil.NoSuchProcess):
            procs.update((p.pid, p) for p in _tree(psutil.Process(node.pid)))
    if node.kind == "postgres":
        procs.update((p.pid, p) for p in _tree(_postmaster(ctx.layout, node.name)))
    return list(procs.values())


def _records(procs: list[psutil.Process]) -> list[ProcessRecord]:
    return [r for r in (record(p.name(), p.pid) for p in procs if p.is_running()) if r]


def _apply(
    ctx: FaultContext,
    fault: str,
    node: ComponentStatus,
    action: FaultAction,
    procs: list[psutil.Process],
    sig: signal.Signals | None,
    restart_program: str | None,
) -> AppliedFault:
    if not procs and action != "restarted":
        raise GracectlError(f"{fault}: no live process found for {node.name}")
    applied = new_fault(fault, node.name, action, _records(procs), restart_program)
    applied = applied.model_copy(update={"owner": ctx.owner, "workload": ctx.workload})
    ledger = Ledger(ctx.layout)
    ledger.add(applied)  # before the signal: a crash right after still gets healed
    if sig is not None:
        for proc in procs:
            try:
                proc.send_signal(sig)
            except psutil.NoSuchProcess:
                continue
    # The fault starts when the signals have gone out, not when it was written down: a write
    # sent in between was sent to a healthy system and must not count as a recovery (RTO).
    applied = applied.model_copy(update={"at": time.time()})
    ledger.replace(applied)
    log.info("%s: %s %s (%d process(es))", fault, action, node.name, len(procs))
    return applied


def kill_node(ctx: FaultContext, fault: str, target: str) -> AppliedFault:
    node = resolve_target(ctx.status, target)
    return _apply(
        ctx,
        fault,
        node,
        "killed",
        node_processes(ctx, node),
        signal.SIGKILL,
        restart_program=node.name,
    )


def kill_leader(ctx: FaultContext, target: str | None) -> AppliedFault:
    """The whole leader node: Patroni and PostgreSQL, SIGKILL."""
    return kill_node(ctx, "postgres.kill_leader", "postgres:leader")


def kill_leader_postmaster(ctx: FaultContext, target: str | None) -> AppliedFault:
    """Only the leader's postmaster: Patroni survives and (primary_start_timeout 0) fails over.

    Backends that outlive their postmaster keep its shared memory attached, and PostgreSQL
    will not start again on that data directory while they live (seen here: idle backends
    blocked on a pipe). The rollback reaps them; they are recorded now, identity and all."""
    node = resolve_target(ctx.status, "postgres:leader")
    tree = _tree(_postmaster(ctx.layout, node.name))
    if not tree:
        raise GracectlError(f"postgres.kill_leader_postmaster: no postmaster found for {node.name}")
    applied = _apply(
        ctx,
        "postgres.kill_leader_postmaster",
        node,
        "killed",
        tree[:1],
        signal.SIGKILL,
        restart_program=None,
    )
    orphans = tuple(_records(tree[1:]))
    updated = applied.model_copy(update={"reap_on_heal": orphans})
    Ledger(ctx.layout).replace(updated)
    return updated


def pause_node(ctx: FaultContext, target: str | None) -> AppliedFault:
    assert target is not None
    node = resolve_target(ctx.status, target)
    return _apply(
        ctx,
        "node.pause",
        node,
        "paused",
        node_processes(ctx, node),
        signal.SIGSTOP,
        restart_program=None,
    )


def pause_replication(ctx: FaultContext, target: str | None) -> AppliedFault:
    """Freeze the leader's WAL senders: replicas fall behind while the leader acks writes
    (asynchronous mode) or commits stall (synchronous mode). Freezing the senders, not the
    receivers, keeps the unsent WAL out of the socket buffers, so it is truly held back."""
    leader = resolve_target(ctx.status, "postgres:leader")
    senders: list[psutil.Process] = []
    for proc in _tree(_postmaster(ctx.layout, leader.name))[1:]:
        try:
            if "walsender" in " ".join(proc.cmdline()):
                senders.append(proc)
        except psutil.Error:
            continue
    return _apply(
        ctx,
        "postgres.pause_replication",
        leader,
        "paused",
        senders,
        signal.SIGSTOP,
        restart_program=None,
    )


def pause_redis_replication(ctx: FaultContext, target: str | None) -> AppliedFault:
    """Hold Redis replication back: SIGSTOP every replica, then drop their links on the
    master, which keeps acknowledging writes (Redis replication is asynchronous).

    Stopping the replicas alone holds nothing back: the master keeps writing into their
    sockets, and loopback buffers take ~4 MB (measured), minutes of events, all read on
    SIGCONT. With the links closed and the replicas unable to reconnect, the stream stays in
    the master's memory only, as `pause_replication` keeps WAL on the PostgreSQL leader.
    Healing resumes the replicas: they resync from the master's backlog, or, the master gone,
    Sentinel promotes one of them without what the master acknowledged meanwhile."""
    master = resolve_target(ctx.status, "redis:master")
    replicas = [
        c for c in ctx.status.components
        if c.kind == "redis" and c.name != master.name and c.state != "stopped"
    ]  # fmt: skip
    if not replicas:
        raise GracectlError(
            "redis.pause_replication: no running Redis replica",
            hint="the dev and ha profiles run Redis replicas; see `gracectl status`",
        )
    names = ",".join(r.name for r in replicas)
    processes = [p for r in replicas for p in node_processes(ctx, r)]
    # Recorded (and resumed when healed) as one fault on every replica at once.
    applied = _apply(
        ctx,
        "redis.pause_replication",
        replicas[0].model_copy(update={"name": names}),
        "paused",
        processes,
        signal.SIGSTOP,
        restart_program=None,
    )
    dropped = drop_replica_links(ctx, master)
    log.info("redis.pause_replication: %s dropped %d replica link(s)", master.name, dropped)
    return applied


def restart_node(ctx: FaultContext, target: str | None) -> AppliedFault:
    assert target is not None
    node = resolve_target(ctx.status, target)
    applied = _apply(ctx, "node.restart", node, "restarted", [], None, restart_program=node.name)
    ctx.supervisor.stop(node.name)
    ctx.supervisor.start(node.name)
    return applied


def kill_target(ctx: FaultContext, target: str | None) -> AppliedFault:
    assert target is not None
    return kill_node(ctx, "node.kill", target)


def kill_partition_leader(ctx: FaultContext, target: str | None) -> AppliedFault:
    """The Kafka broker leading partition 0 of the scenario's topic (asked of the cluster at
    fault time), killed whole."""
    topic = target or ctx.topic
    if not topic:
        raise ConfigError(
            "kafka.kill_partition_leader needs a topic",
            hint="give the scenario an `events` load or a target topic",
        )
    leader_id = kafka_partition_leader(ctx, topic)
    node = f"kafka-{leader_id}"
    return kill_node(ctx, "kafka.kill_partition_leader", node)


def restart_bus(ctx: FaultContext, target: str | None) -> AppliedFault:
    """Stop every node of the event bus (Kafka brokers, or Redis for Redis Streams) and start
    them again: what "events survive restarts" is about."""
    kind = "kafka" if ctx.settings.bus == "kafka" else "redis"
    nodes = [c for c in ctx.status.components if c.kind == kind]
    if not nodes:
        raise GracectlError(f"bus.restart_all: no {kind} node in this stack")
    applied = _apply(ctx, "bus.restart_all", nodes[0], "restarted", [], None, restart_program=None)
    names = [n.name for n in nodes]
    ctx.supervisor.stop_together(names)
    for name in names:
        ctx.supervisor.start(name)
    return applied


def kill_consumer(ctx: FaultContext, target: str | None) -> AppliedFault:
    """SIGKILL one consumer process of the event load: its partitions or pending entries must
    move to the others."""
    for pid in ctx.consumer_pids:
        try:
            proc = psutil.Process(pid)
        except psutil.NoSuchProcess:
            continue
        node = ComponentStatus(
            name=f"consumer-{pid}",
            kind="consumer",
            role="consumer",
            state="running",
            pid=pid,
            endpoint="-",
        )
        return _apply(
            ctx,
            "events.kill_consumer",
            node,
            "killed",
            [proc],
            signal.SIGKILL,
            restart_program=None,
        )
    raise GracectlError(
        "events.kill_consumer: no live consumer process",
        hint="the scenario's events load needs consumers with consumer_processes",
    )


REGISTRY: dict[str, Callable[[FaultContext, str | None], AppliedFault]] = {
    "postgres.kill_leader": kill_leader,
    "postgres.kill_leader_postmaster": kill_leader_postmaster,
    "postgres.pause_replication": pause_replication,
    "redis.pause_replication": pause_redis_replication,
    "node.kill": kill_target,
    "node.pause": pause_node,
    "node.restart": restart_node,
    "kafka.kill_partition_leader": kill_partition_leader,
    "bus.restart_all": restart_bus,
    "events.kill_consumer": kill_consumer,
}


def inject(ctx: FaultContext, fault: str, target: str | None) -> AppliedFault:
    try:
        action = REGISTRY[fault]
    except KeyError as exc:
        raise ConfigError(
            f"unknown fault {fault!r}", hint=f"known faults: {', '.join(sorted(REGISTRY))}"
        ) from exc
    return action(ctx, target)
