"""The Kafka event bus: KRaft nodes that are broker and controller at once, run from the jars
scripts/setup.sh fetched, with storage formatted once under a cluster id kept in the state
directory (so `down` + `up` finds its data again).
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import uuid
from pathlib import Path

from gracectl.components.base import Component, StackContext
from gracectl.components.kafka_snapshot import KafkaSnapshot, read_quorum_view, snapshot
from gracectl.config import KafkaConfig
from gracectl.errors import EnvironmentProblem
from gracectl.status import ComponentStatus
from gracectl.supervisor import Program
from gracectl.topology import HOST, Node

log = logging.getLogger(__name__)

#: Keep in step with kafka.version in scripts/kafka/pom.xml.
KAFKA_VERSION = "4.1.1"
BROKER_MAIN = "kafka.Kafka"
STORAGE_TOOL_MAIN = "kafka.tools.StorageTool"
FORMAT_TIMEOUT_S = 120.0
#: A broker's controlled shutdown needs a controller quorum, so `down` stops every node at
#: once (stop_together); one still up after this is killed by supervisord instead of
#: waiting out Kafka's own 5-minute limit.
STOP_WAIT_S = 30

LOG4J2_PROPERTIES = """\
# Written by gracectl: Kafka logs to stdout, which supervisord keeps in the node's log.
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.target = SYSTEM_OUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
# The full configuration dump at every start is noise; server.properties is beside the log.
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


def default_libs_dir() -> Path:
    """Where scripts/setup.sh puts the jars for this user (world-readable when root)."""
    if os.geteuid() == 0:
        return Path("/opt/gracectl/kafka") / KAFKA_VERSION / "libs"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "gracectl" / "kafka" / KAFKA_VERSION / "libs"


def libs_dir(cfg: KafkaConfig) -> Path:
    return cfg.libs_dir if cfg.libs_dir is not None else default_libs_dir()


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID in URL-safe base64, as `StorageTool random-uuid`."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # would read as an option on a command line
            return text


def render_properties(cfg: KafkaConfig, voters: list[Node], node: Node, log_dir: Path) -> str:
    """server.properties of `node`; `voters` are all Kafka nodes, node id = position."""
    node_id = voters.index(node)
    rf = cfg.replication_factor
    isr = cfg.min_insync_replicas
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": ",".join(
            f"{i}@{HOST}:{v.ports['controller']}" for i, v in enumerate(voters)
        ),
        "listeners": f"PLAINTEXT://{HOST}:{node.ports['kafka']},"
        f"CONTROLLER://{HOST}:{node.ports['controller']}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{node.ports['kafka']}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(log_dir),
        # Durability rests on replication (Kafka does not fsync by default).
        "default.replication.factor": str(rf),
        "min.insync.replicas": str(isr),
        "unclean.leader.election.enable": "false",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": str(rf),
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": str(rf),
        "transaction.state.log.min.isr": str(isr),
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.replication.factor": str(rf),
        "share.coordinator.state.topic.min.isr": str(isr),
        "group.initial.rebalance.delay.ms": "0",
        # Small machine: fewer threads and a small log-cleaner buffer (128 MiB by default).
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
        "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
    }
    lines = ["# Written by gracectl on every `up`; edits are overwritten."]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def jvm_command(cfg: KafkaConfig, log4j: Path, main: str, heap_mb: int | None = None) -> list[str]:
    heap = heap_mb or cfg.heap_mb
    return [
        "java",
        f"-Xms{heap}m",
        f"-Xmx{heap}m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        f"{libs_dir(cfg)}/*",
        main,
    ]


def _finish(proc: subprocess.Popen[str]) -> str:
    """Wait for a format run (killed past its deadline) and return what it printed."""
    try:
        output, _ = proc.communicate(timeout=FORMAT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    return output


class Kafka(Component):
    kind = "kafka"
    tier = 60
    stop_together = True
    waiting_for = "Kafka brokers registered with an active controller and full ISRs"

    # -- paths -----------------------------------------------------------------------------
    def conf_path(self, ctx: StackContext, node: Node) -> Path:
        return ctx.layout.node_data(node.name) / "server.properties"

    def log4j_path(self, ctx: StackContext, node: Node) -> Path:
        return ctx.layout.node_data(node.name) / "log4j2.properties"

    def log_dir(self, ctx: StackContext, node: Node) -> Path:
        return ctx.layout.node_data(node.name) / "logs"

    def cluster_id_path(self, ctx: StackContext) -> Path:
        return ctx.layout.data / "kafka-cluster-id"

    # -- environment -----------------------------------------------------------------------
    def binaries(self, ctx: StackContext) -> list[str]:
        if not self.nodes(ctx):
            return []
        libs = libs_dir(ctx.settings.kafka)
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise EnvironmentProblem(
                f"kafka: no Kafka broker jar in {libs}", hint="run scripts/setup.sh"
            )
        return ["java"]

    # -- configuration ---------------------------------------------------------------------
    def cluster_id(self, ctx: StackContext) -> str:
        path = self.cluster_id_path(ctx)
        if path.exists():
            return path.read_text().strip()
        cluster_id = new_cluster_id()
        path.write_text(cluster_id + "\n")
        log.info("Generated Kafka cluster id %s.", cluster_id)
        return cluster_id

    def write_configs(self, ctx: StackContext) -> None:
        voters = self.nodes(ctx)
        if not voters:
            return
        for node in voters:
            data = ctx.layout.node_data(node.name)
            data.mkdir(parents=True, exist_ok=True)
            data.chmod(0o700)
            ctx.user.chown(data)
            for path, text in (
                (self.conf_path(ctx, node), self._properties(ctx, voters, node)),
                (self.log4j_path(ctx, node), LOG4J2_PROPERTIES),
            ):
                path.write_text(text)
                path.chmod(0o600)
                ctx.user.chown(path)
        self._format_storage(ctx, voters)

    def _properties(self, ctx: StackContext, voters: list[Node], node: Node) -> str:
        return render_properties(ctx.settings.kafka, voters, node, self.log_dir(ctx, node))

    def _format_storage(self, ctx: StackContext, voters: list[Node]) -> None:
        """Format each unformatted node's log dir, all at once (a JVM start each)."""
        todo = [n for n in voters if not (self.log_dir(ctx, n) / "meta.properties").exists()]
        if not todo:
            return
        cluster_id = self.cluster_id(ctx)
        running = {
            node.name: subprocess.Popen(
                [
                    *ctx.user.command_prefix(),
                    *jvm_command(
                        ctx.settings.kafka, self.log4j_path(ctx, node), STORAGE_TOOL_MAIN, 128
                    ),
                    "format",
                    "--cluster-id",
                    cluster_id,
                    "--config",
                    str(self.conf_path(ctx, node)),
                    "--ignore-formatted",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for node in todo
        }
        outputs = {name: _finish(proc) for name, proc in running.items()}
        failed = [name for name, proc in running.items() if proc.returncode != 0]
        if failed:
            output = outputs[failed[0]]
            last = (output.strip().splitlines() or ["no output"])[-1]
            raise EnvironmentProblem(
                f"{failed[0]}: formatting Kafka storage failed: {last}",
                hint=f"the jars in {libs_dir(ctx.settings.kafka)} must be readable by the "
                "service user; run scripts/setup.sh",
                details=output[-3000:],
            )
        log.info("Formatted the Kafka storage of %s as cluster %s.", ", ".join(running), cluster_id)

    def programs(self, ctx: StackContext) -> list[Program]:
        cfg = ctx.settings.kafka
        return [
            Program(
                name=node.name,
                command=[
                    *jvm_command(cfg, self.log4j_path(ctx, node), BROKER_MAIN),
                    str(self.conf_path(ctx, node)),
                ],
                directory=ctx.layout.node_data(node.name),
                user=ctx.user.name,
                priority=self.tier,
                stopwaitsecs=STOP_WAIT_S,
            )
            for node in self.nodes(ctx)
        ]

    # -- live state ------------------------------------------------------------------------
    def bootstrap(self, ctx: StackContext) -> str:
        return ",".join(n.endpoint("kafka") for n in self.nodes(ctx))

    def snapshot(self, ctx: StackContext) -> KafkaSnapshot:
        voters = self.nodes(ctx)
        alive = {i for i, n in enumerate(voters) if self._pid(ctx, n)}
        views = [
            view
            for i, node in enumerate(voters)
            if i in alive
            and (
                view := read_quorum_view(
                    self.log_dir(ctx, node) / "__cluster_metadata-0" / "quorum-state"
                )
            )
            is not None
        ]
        return snapshot(self.bootstrap(ctx), views, alive)

    def probe(self, ctx: StackContext) -> list[ComponentStatus]:
        voters = self.nodes(ctx)
        if not voters:
            return []
        snap = self.snapshot(ctx)
        result = []
        for node_id, node in enumerate(voters):
            role = "controller" if snap.active_controller == node_id else "broker"
            if snap.registered is None or node_id not in snap.registered:
                result.append(self._status(ctx, node, "kafka", role, detail="not registered"))
                continue
            if not self._pid(ctx, node):
                # A killed broker stays registered until its session times out.
                result.append(self._status(ctx, node, "kafka", role, detail="gone, registered"))
                continue
            health = snap.partitions
            result.append(
                self._status(
                    ctx,
                    node,
                    "kafka",
                    role,
                    "running",
                    detail=f"node_id={node_id} leads={health.led.get(node_id, 0)} "
                    f"under_replicated={health.under_replicated.get(node_id, 0)}",
                )
            )
        return result

    def not_ready_reason(self, ctx: StackContext) -> str | None:
        voters = self.nodes(ctx)
        if not voters:
            return None
        snap = self.snapshot(ctx)
        if snap.registered is None:
            return "no broker answers yet"
        missing = [n.name for i, n in enumerate(voters) if i not in snap.registered]
        if missing:
            return f"not registered yet: {', '.join(missing)}"
        if snap.active_controller is None:
            return "no active controller yet"
        if snap.partitions.offline:
            return f"{snap.partitions.offline} partition(s) without a leader"
        if snap.under_replicated_total:
            return f"{snap.under_replicated_total} partition(s) without a full ISR"
        return None
