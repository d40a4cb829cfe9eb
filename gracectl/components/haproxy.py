"""HAProxy: the read-write endpoint (Patroni /primary) and the read-only one (/replica)."""

from __future__ import annotations

import csv
import io

import psycopg

from gracectl.components.base import Component, StackContext
from gracectl.httpjson import HttpProblem, request
from gracectl.status import ComponentStatus
from gracectl.supervisor import Program
from gracectl.topology import HOST, Node


def proxy_node(ctx: StackContext) -> Node:
    return ctx.topology.of_kind("haproxy")[0]


def server_states(ctx: StackContext) -> dict[str, dict[str, str]]:
    """backend -> {server: UP|DOWN|...} from HAProxy's stats CSV."""
    node = proxy_node(ctx)
    status, text = request(f"http://{HOST}:{node.ports['stats']}/;csv", timeout_s=1.5)
    if status != 200:
        raise HttpProblem(f"HAProxy stats answered HTTP {status}")
    rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
    result: dict[str, dict[str, str]] = {}
    for row in rows:
        if row["svname"] in ("FRONTEND", "BACKEND"):
            continue
        result.setdefault(row["pxname"], {})[row["svname"]] = row["status"]
    return result


def up_servers(states: dict[str, dict[str, str]], backend: str) -> list[str]:
    return [server for server, state in states.get(backend, {}).items() if state == "UP"]


def in_recovery_through(ctx: StackContext, port: int) -> bool:
    pg = ctx.settings.postgres
    with psycopg.connect(
        host=HOST,
        port=port,
        user=pg.app_user,
        password=ctx.secrets.pg_app,
        dbname=pg.database,
        connect_timeout=3,
        autocommit=True,
    ) as conn:
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        return bool(row and row[0])


class HAProxy(Component):
    kind = "haproxy"
    tier = 30
    waiting_for = "rw port reaches the leader, ro port a replica"

    def binaries(self, ctx: StackContext) -> list[str]:
        return ["haproxy"]

    def config_path(self, ctx: StackContext) -> str:
        return str(ctx.layout.etc / "haproxy.cfg")

    def render(self, ctx: StackContext) -> str:
        node = proxy_node(ctx)
        hc = ctx.settings.haproxy
        pg_nodes = ctx.topology.of_kind("postgres")
        servers = [
            f"    server {n.name} {n.endpoint('postgres')} check port {n.ports['patroni']}"
            for n in pg_nodes
        ]
        default_server = (
            f"    default-server inter {hc.check_interval_ms}ms fall {hc.fall} rise {hc.rise} "
            "on-marked-down shutdown-sessions"
        )
        return "\n".join(
            [
                "global",
                "    maxconn 4096",
                "    log stdout format raw local0 notice",
                "",
                "defaults",
                "    mode tcp",
                "    log global",
                "    timeout connect 3s",
                "    timeout client 30m",
                "    timeout server 30m",
                "    timeout check 2s",
                "",
                "listen postgres_rw",
                f"    bind {node.endpoint('rw')}",
                "    option httpchk GET /primary",
                "    http-check expect status 200",
                default_server,
                *servers,
                "",
                "listen postgres_ro",
                f"    bind {node.endpoint('ro')}",
                "    balance roundrobin",
                "    option httpchk GET /replica",
                "    http-check expect status 200",
                default_server,
                *servers,
                "",
                "listen stats",
                f"    bind {node.endpoint('stats')}",
                "    mode http",
                "    stats enable",
                "    stats uri /",
                "    stats refresh 5s",
                "",
            ]
        )

    def write_configs(self, ctx: StackContext) -> None:
        path = ctx.layout.etc / "haproxy.cfg"
        path.write_text(self.render(ctx))
        path.chmod(0o644)

    def programs(self, ctx: StackContext) -> list[Program]:
        node = proxy_node(ctx)
        return [
            Program(
                name=node.name,
                command=["haproxy", "-db", "-f", self.config_path(ctx)],
                directory=ctx.layout.etc,
                user=ctx.user.name,
                priority=self.tier,
            )
        ]

    def probe(self, ctx: StackContext) -> list[ComponentStatus]:
        node = proxy_node(ctx)
        try:
            states = server_states(ctx)
        except HttpProblem as exc:
            return [self._status(ctx, node, "rw", "proxy", detail=str(exc)[:200])]
        up_rw, up_ro = up_servers(states, "postgres_rw"), up_servers(states, "postgres_ro")
        return [self._status(
            ctx, node, "rw", "proxy", "running" if up_rw else "unhealthy",
            detail=f"rw->{','.join(up_rw) or 'none'} ro->{','.join(up_ro) or 'none'} "
            f"(ro port {node.ports['ro']})",
        )]  # fmt: skip

    def not_ready_reason(self, ctx: StackContext) -> str | None:
        node = proxy_node(ctx)
        try:
            states = server_states(ctx)
        except HttpProblem as exc:
            return f"stats not answering ({exc})"
        up_rw = up_servers(states, "postgres_rw")
        if len(up_rw) != 1:
            return f"rw backend has {len(up_rw)} servers up, want 1"
        try:
            if in_recovery_through(ctx, node.ports["rw"]):
                return "rw port reached a replica"
            if ctx.settings.postgres.replicas and not in_recovery_through(ctx, node.ports["ro"]):
                return "ro port reached the leader"
        except psycopg.Error as exc:
            return f"cannot query through the proxy yet ({str(exc).strip()[:120]})"
        return None
