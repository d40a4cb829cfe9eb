"""Redis primary + replicas with Sentinels (AOF on, requirepass + masterauth)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gracectl.components.base import Component, StackContext
from gracectl.status import ComponentStatus
from gracectl.supervisor import Program
from gracectl.topology import HOST, Node


def client(ctx: StackContext, node: Node, port_name: str = "redis") -> redis.Redis:
    password = ctx.secrets.redis if port_name == "redis" else None
    return redis.Redis(
        host=HOST,
        port=node.ports[port_name],
        password=password,
        socket_timeout=1.5,
        socket_connect_timeout=1.5,
        # One attempt: redis-py's default retries make a stopped (SIGSTOPped) node cost ~20 s
        # per status probe, which delays every fault fired while one is paused.
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )


def _write_once(path: Path, text: str, ctx: StackContext) -> None:
    """Redis and Sentinel rewrite their own config files on failover: never overwrite them."""
    if path.exists():
        return
    path.write_text(text)
    path.chmod(0o600)
    ctx.user.chown(path)


class Redis(Component):
    kind = "redis"
    tier = 40
    waiting_for = "Redis master with its replicas in sync"

    def binaries(self, ctx: StackContext) -> list[str]:
        return ["redis-server"]

    def conf_path(self, ctx: StackContext, node: Node) -> Path:
        return ctx.layout.node_data(node.name) / "redis.conf"

    def render(self, ctx: StackContext, node: Node) -> str:
        cfg = ctx.settings.redis
        master = self.nodes(ctx)[0]
        lines = [
            f"port {node.ports['redis']}",
            f"bind {HOST}",
            "protected-mode yes",
            "daemonize no",
            'logfile ""',
            f"dir {ctx.layout.node_data(node.name)}",
            f"requirepass {ctx.secrets.redis}",
            f"masterauth {ctx.secrets.redis}",
            f"appendonly {'yes' if cfg.appendonly else 'no'}",
            "appendfsync everysec",
            f"replica-announce-ip {HOST}",
        ]
        if node is not master:
            lines.append(f"replicaof {HOST} {master.ports['redis']}")
        return "\n".join(lines) + "\n"

    def write_configs(self, ctx: StackContext) -> None:
        for node in self.nodes(ctx):
            data = ctx.layout.node_data(node.name)
            data.mkdir(parents=True, exist_ok=True)
            data.chmod(0o700)
            ctx.user.chown(data)
            _write_once(self.conf_path(ctx, node), self.render(ctx, node), ctx)

    def programs(self, ctx: StackContext) -> list[Program]:
        return [
            Program(
                name=node.name,
                command=["redis-server", str(self.conf_path(ctx, node))],
                directory=ctx.layout.node_data(node.name),
                user=ctx.user.name,
                priority=self.tier,
            )
            for node in self.nodes(ctx)
        ]

    def probe(self, ctx: StackContext) -> list[ComponentStatus]:
        infos: dict[str, dict[str, object]] = {}
        for node in self.nodes(ctx):
            try:
                infos[node.name] = client(ctx, node).info("replication")
            except redis.RedisError:
                continue
        master_offset = max(
            (
                int(str(i.get("master_repl_offset", 0)))
                for i in infos.values()
                if i.get("role") == "master"
            ),
            default=None,
        )
        result = []
        for node in self.nodes(ctx):
            info = infos.get(node.name)
            if info is None:
                result.append(self._status(ctx, node, "redis", "replica", detail="not answering"))
                continue
            if info.get("role") == "master":
                result.append(
                    self._status(
                        ctx,
                        node,
                        "redis",
                        "master",
                        "running",
                        detail=f"connected_slaves={info.get('connected_slaves')}",
                    )
                )
                continue
            link_up = info.get("master_link_status") == "up"
            offset = int(str(info.get("slave_repl_offset", 0)))
            lag = master_offset - offset if master_offset is not None else None
            result.append(
                self._status(
                    ctx,
                    node,
                    "redis",
                    "replica",
                    "running" if link_up else "unhealthy",
                    detail=f"master={info.get('master_host')}:{info.get('master_port')} "
                    f"link={info.get('master_link_status')}",
                    lag_bytes=max(lag, 0) if lag is not None else None,
                )
            )
        return result

    def not_ready_reason(self, ctx: StackContext) -> str | None:
        members = self.probe(ctx)
        masters = [m for m in members if m.role == "master"]
        if len(masters) != 1:
            return f"{len(masters)} masters, want 1"
        lagging = [m.name for m in members if m.state != "running"]
        if lagging:
            return f"not in sync yet: {', '.join(lagging)}"
        return None


class Sentinel(Component):
    kind = "sentinel"
    tier = 50
    waiting_for = "Sentinels agree on the master and see its replicas"

    def binaries(self, ctx: StackContext) -> list[str]:
        return ["redis-sentinel"]

    def conf_path(self, ctx: StackContext, node: Node) -> Path:
        return ctx.layout.node_data(node.name) / "sentinel.conf"

    def render(self, ctx: StackContext, node: Node) -> str:
        cfg = ctx.settings.redis
        master = ctx.topology.of_kind("redis")[0]
        name = cfg.master_name
        return (
            "\n".join(
                [
                    f"port {node.ports['sentinel']}",
                    f"bind {HOST}",
                    "daemonize no",
                    'logfile ""',
                    f"dir {ctx.layout.node_data(node.name)}",
                    f"sentinel announce-ip {HOST}",
                    f"sentinel monitor {name} {HOST} {master.ports['redis']} {cfg.quorum}",
                    f"sentinel auth-pass {name} {ctx.secrets.redis}",
                    f"sentinel down-after-milliseconds {name} {cfg.down_after_ms}",
                    f"sentinel failover-timeout {name} {cfg.failover_timeout_ms}",
                    f"sentinel parallel-syncs {name} 1",
                ]
            )
            + "\n"
        )

    def write_configs(self, ctx: StackContext) -> None:
        for node in self.nodes(ctx):
            data = ctx.layout.node_data(node.name)
            data.mkdir(parents=True, exist_ok=True)
            data.chmod(0o700)
            ctx.user.chown(data)
            _write_once(self.conf_path(ctx, node), self.render(ctx, node), ctx)

    def programs(self, ctx: StackContext) -> list[Program]:
        return [
            Program(
                name=node.name,
                command=["redis-sentinel", str(self.conf_path(ctx, node))],
                directory=ctx.layout.node_data(node.name),
                user=ctx.user.name,
                priority=self.tier,
            )
            for node in self.nodes(ctx)
        ]

    def _view(self, ctx: StackContext, node: Node) -> tuple[str, int, int] | None:
        """(master endpoint, replicas seen, other sentinels seen) or None if not answering."""
        name = ctx.settings.redis.master_name
        try:
            conn = client(ctx, node, "sentinel")
            master: dict[str, Any] = conn.sentinel_master(name)  # type: ignore[assignment]
            replicas: list[dict[str, Any]] = conn.sentinel_slaves(name)
        except redis.RedisError:
            return None
        healthy_replicas = [
            r
            for r in replicas
            if "s_down" not in str(r.get("flags", "")) and "o_down" not in str(r.get("flags", ""))
        ]
        return (
            f"{master['ip']}:{master['port']}",
            len(healthy_replicas),
            int(master.get("num-other-sentinels", 0)),
        )

    def probe(self, ctx: StackContext) -> list[ComponentStatus]:
        result = []
        for node in self.nodes(ctx):
            view = self._view(ctx, node)
            if view is None:
                result.append(
                    self._status(ctx, node, "sentinel", "sentinel", detail="not answering")
                )
            else:
                result.append(
                    self._status(
                        ctx,
                        node,
                        "sentinel",
                        "sentinel",
                        "running",
                        detail=f"master={view[0]} replicas={view[1]} other_sentinels={view[2]}",
                    )
                )
        return result

    def not_ready_reason(self, ctx: StackContext) -> str | None:
        cfg = ctx.settings.redis
        views = {n.name: self._view(ctx, n) for n in self.nodes(ctx)}
        silent = [name for name, v in views.items() if v is None]
        if silent:
            return f"not answering: {', '.join(silent)}"
        seen = [v for v in views.values() if v is not None]
        if len({v[0] for v in seen}) != 1:
            return "sentinels disagree on the master"
        if any(v[1] != cfg.replicas for v in seen):
            return "not every sentinel sees every replica yet"
        if any(v[2] != cfg.sentinels - 1 for v in seen):
            return "sentinels have not discovered each other yet"
        return None
