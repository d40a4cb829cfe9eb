"""etcd: the distributed configuration store Patroni keeps its leader lock in."""

from __future__ import annotations

from gracectl.components.base import Component, StackContext
from gracectl.httpjson import HttpProblem, get_json, post_json
from gracectl.status import ComponentStatus
from gracectl.supervisor import Program
from gracectl.topology import HOST, Node


def client_url(node: Node) -> str:
    return f"http://{HOST}:{node.ports['client']}"


def peer_url(node: Node) -> str:
    return f"http://{HOST}:{node.ports['peer']}"


def hosts_csv(ctx: StackContext) -> str:
    return ",".join(n.endpoint("client") for n in ctx.topology.of_kind("etcd"))


class Etcd(Component):
    kind = "etcd"
    tier = 10
    waiting_for = "etcd quorum healthy"

    def binaries(self, ctx: StackContext) -> list[str]:
        return ["etcd"]

    def write_configs(self, ctx: StackContext) -> None:
        for node in self.nodes(ctx):
            data = ctx.layout.node_data(node.name)
            data.mkdir(parents=True, exist_ok=True)
            data.chmod(0o700)
            ctx.user.chown(data)

    def programs(self, ctx: StackContext) -> list[Program]:
        members = self.nodes(ctx)
        initial_cluster = ",".join(f"{n.name}={peer_url(n)}" for n in members)
        etcd = ctx.settings.etcd
        token = f"gracectl-{ctx.settings.postgres.scope}-{ctx.settings.base_port}"
        return [
            Program(
                name=node.name,
                command=[
                    "etcd",
                    "--name",
                    node.name,
                    "--data-dir",
                    str(ctx.layout.node_data(node.name) / "member-data"),
                    "--listen-client-urls",
                    client_url(node),
                    "--advertise-client-urls",
                    client_url(node),
                    "--listen-peer-urls",
                    peer_url(node),
                    "--initial-advertise-peer-urls",
                    peer_url(node),
                    "--initial-cluster",
                    initial_cluster,
                    "--initial-cluster-state",
                    "new",
                    "--initial-cluster-token",
                    token,
                    "--heartbeat-interval",
                    str(etcd.heartbeat_interval_ms),
                    "--election-timeout",
                    str(etcd.election_timeout_ms),
                    "--logger",
                    "zap",
                ],
                directory=ctx.layout.node_data(node.name),
                user=ctx.user.name,
                priority=self.tier,
            )
            for node in members
        ]

    def _member(self, ctx: StackContext, node: Node) -> ComponentStatus:
        try:
            health = get_json(client_url(node) + "/health", timeout_s=1.5)
            status = post_json(client_url(node) + "/v3/maintenance/status", {}, timeout_s=1.5)
        except HttpProblem as exc:
            return self._status(ctx, node, "client", "member", detail=str(exc)[:200])
        healthy = str(health.get("health")) == "true"
        is_leader = status.get("leader") == status.get("header", {}).get("member_id")
        return self._status(
            ctx,
            node,
            "client",
            "leader" if is_leader else "member",
            "running" if healthy else "unhealthy",
            detail=f"raft_term={status.get('header', {}).get('raft_term')}",
        )

    def probe(self, ctx: StackContext) -> list[ComponentStatus]:
        return [self._member(ctx, n) for n in self.nodes(ctx)]

    def not_ready_reason(self, ctx: StackContext) -> str | None:
        members = self.probe(ctx)
        unhealthy = [m.name for m in members if m.state != "running"]
        if unhealthy:
            return f"not healthy: {', '.join(unhealthy)}"
        if sum(m.role == "leader" for m in members) != 1:
            return "no single raft leader"
        return None
