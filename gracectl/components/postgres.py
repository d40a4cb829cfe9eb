"""PostgreSQL managed by Patroni (etcd3 DCS): one leader, streaming replicas, sync standby."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg import sql

from gracectl.components.base import Component, StackContext
from gracectl.components.etcd import hosts_csv
from gracectl.errors import EnvironmentProblem, GracectlError
from gracectl.httpjson import HttpProblem, get_json, request
from gracectl.status import ComponentStatus
from gracectl.supervisor import Program
from gracectl.topology import HOST, Node

log = logging.getLogger(__name__)

SUPERUSER = "postgres"
REPLICATION_USER = "replicator"
REWIND_USER = "rewind"
REST_USER = "patroni"
# Where scripts/setup.sh puts Patroni when running as root (a venv the service user can run).
SYSTEM_PATRONI = Path("/opt/gracectl/patroni/bin/patroni")

ROLE_NAMES = {
    "leader": "leader",
    "standby_leader": "leader",
    "sync_standby": "sync_replica",
    "quorum_standby": "sync_replica",
    "replica": "replica",
}


def patroni_executable(ctx: StackContext) -> str:
    configured = ctx.settings.postgres.patroni_bin
    if configured:
        return str(configured)
    if ctx.user.name and SYSTEM_PATRONI.exists():
        return str(SYSTEM_PATRONI)
    beside = Path(sys.executable).parent / "patroni"
    if beside.exists():
        return str(beside)
    return shutil.which("patroni") or "patroni"


def rest_url(node: Node) -> str:
    return f"http://{HOST}:{node.ports['patroni']}"


def dynamic_config(ctx: StackContext) -> dict[str, Any]:
    """Settings Patroni keeps in the DCS; applied at bootstrap and PATCHed on every `up`."""
    pg = ctx.settings.postgres
    timings = pg.patroni
    return {
        "ttl": timings.ttl,
        "loop_wait": timings.loop_wait,
        "retry_timeout": timings.retry_timeout,
        "primary_start_timeout": timings.primary_start_timeout,
        "maximum_lag_on_failover": timings.maximum_lag_on_failover,
        "synchronous_mode": pg.replication_mode == "synchronous",
        "postgresql": {
            "use_pg_rewind": True,
            "use_slots": True,
            "parameters": {
                "wal_level": "replica",
                "hot_standby": "on",
                "wal_log_hints": "on",
                "max_connections": 200,
                "max_wal_senders": 12,
                "max_replication_slots": 12,
                "wal_keep_size": "256MB",
                "password_encryption": "scram-sha-256",
            },
        },
    }


class Postgres(Component):
    kind = "postgres"
    tier = 20
    waiting_for = "Patroni leader, replicas streaming, sync standby"

    def binaries(self, ctx: StackContext) -> list[str]:
        return [str(ctx.settings.postgres.bin_dir / "postgres"), patroni_executable(ctx)]

    def config_path(self, ctx: StackContext, node: Node) -> Path:
        return ctx.layout.node_data(node.name) / "patroni.yml"

    def data_dir(self, ctx: StackContext, node: Node) -> Path:
        return ctx.layout.node_data(node.name) / "pgdata"

    def render(self, ctx: StackContext, node: Node) -> dict[str, Any]:
        s = ctx.secrets
        node_dir = ctx.layout.node_data(node.name)
        return {
            "scope": ctx.settings.postgres.scope,
            "namespace": "/gracectl/",
            "name": node.name,
            "log": {"level": "INFO", "format": "%(asctime)s %(levelname)s: %(message)s"},
            "restapi": {
                "listen": node.endpoint("patroni"),
                "connect_address": node.endpoint("patroni"),
                "authentication": {"username": REST_USER, "password": s.patroni_rest},
            },
            "etcd3": {"hosts": hosts_csv(ctx), "protocol": "http"},
            "bootstrap": {
                "dcs": dynamic_config(ctx),
                "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}, "data-checksums"],
            },
            "postgresql": {
                "listen": node.endpoint("postgres"),
                "connect_address": node.endpoint("postgres"),
                "data_dir": str(self.data_dir(ctx, node)),
                "bin_dir": str(ctx.settings.postgres.bin_dir),
                "pgpass": str(node_dir / "pgpass"),
                "authentication": {
                    "superuser": {"username": SUPERUSER, "password": s.pg_superuser},
                    "replication": {"username": REPLICATION_USER, "password": s.pg_replication},
                    "rewind": {"username": REWIND_USER, "password": s.pg_rewind},
                },
                "parameters": {
                    # TCP on loopback only: no unix sockets to collide or outgrow 107 bytes.
                    "unix_socket_directories": "",
                    "shared_buffers": "64MB",
                    "logging_collector": "off",
                },
                "pg_hba": [
                    f"host replication {REPLICATION_USER} 127.0.0.1/32 scram-sha-256",
                    "host all all 127.0.0.1/32 scram-sha-256",
                ],
            },
            "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False},
        }

    def write_configs(self, ctx: StackContext) -> None:
        for node in self.nodes(ctx):
            node_dir = ctx.layout.node_data(node.name)
            node_dir.mkdir(parents=True, exist_ok=True)
            node_dir.chmod(0o700)
            ctx.user.chown(node_dir)
            path = self.config_path(ctx, node)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                yaml.safe_dump(self.render(ctx, node), fh, sort_keys=False)
            ctx.user.chown(path)

    def programs(self, ctx: StackContext) -> list[Program]:
        patroni = patroni_executable(ctx)
        return [
            Program(
                name=node.name,
                command=[patroni, str(self.config_path(ctx, node))],
                directory=ctx.layout.node_data(node.name),
                user=ctx.user.name,
                priority=self.tier,
                environment={"PATH": f"{ctx.settings.postgres.bin_dir}:/usr/bin:/bin"},
                stopwaitsecs=60,
            )
            for node in self.nodes(ctx)
        ]

    # -- live state ----------------------------------------------------------------------
    def cluster(self, ctx: StackContext) -> dict[str, Any] | None:
        """Patroni's /cluster view from the first node that answers."""
        for node in self.nodes(ctx):
            try:
                view = get_json(rest_url(node) + "/cluster", timeout_s=1.5)
            except HttpProblem:
                continue
            if isinstance(view, dict) and view.get("members"):
                return view
        return None

    def probe(self, ctx: StackContext) -> list[ComponentStatus]:
        view = self.cluster(ctx) or {"members": []}
        members = {m["name"]: m for m in view["members"]}
        result = []
        for node in self.nodes(ctx):
            member = members.get(node.name)
            if member is None:
                result.append(
                    self._status(
                        ctx, node, "postgres", "replica", detail="not in Patroni's cluster view"
                    )
                )
                continue
            role = ROLE_NAMES.get(member.get("role", ""), member.get("role", "unknown"))
            pg_state = member.get("state", "")
            healthy = pg_state == "running" if role == "leader" else pg_state == "streaming"
            lag = member.get("lag")
            result.append(
                self._status(
                    ctx,
                    node,
                    "postgres",
                    role,
                    "running" if healthy else "unhealthy",
                    detail=f"patroni state={pg_state} timeline={member.get('timeline')}",
                    lag_bytes=lag if isinstance(lag, int) and role != "leader" else None,
                )
            )
        return result

    def not_ready_reason(self, ctx: StackContext) -> str | None:
        members = self.probe(ctx)
        leaders = [m for m in members if m.role == "leader" and m.state == "running"]
        if len(leaders) != 1:
            return "no running leader yet"
        waiting = [m.name for m in members if m.state != "running"]
        if waiting:
            return f"not streaming yet: {', '.join(waiting)}"
        synchronous = ctx.settings.postgres.replication_mode == "synchronous"
        if (
            synchronous
            and ctx.settings.postgres.replicas
            and not any(m.role == "sync_replica" for m in members)
        ):
            return "no synchronous standby yet"
        return None

    def leader(self, ctx: StackContext) -> Node | None:
        for status in self.probe(ctx):
            if status.role == "leader" and status.state == "running":
                return ctx.topology.node(status.name)
        return None

    def after_ready(self, ctx: StackContext) -> None:
        self._apply_dynamic_config(ctx)
        leader = self.leader(ctx)
        if leader is None:
            raise GracectlError("postgres: leader vanished before the application role was made")
        self._ensure_application_role(ctx, leader)

    def nudge(self, ctx: StackContext) -> None:
        """Write one WAL record on the leader. A replica rewound by pg_rewind stays
        inconsistent until WAL passes its minimum recovery point, which an idle leader never
        writes (seen here: stuck for minutes 24 bytes short)."""
        leader = self.leader(ctx)
        if leader is None:
            return
        try:
            with psycopg.connect(
                host=HOST, port=leader.ports["postgres"], user=SUPERUSER,
                password=ctx.secrets.pg_superuser, dbname="postgres", autocommit=True,
                connect_timeout=2,
            ) as conn:
                conn.execute("SELECT pg_logical_emit_message(false, 'gracectl', 'nudge')")
        except psycopg.Error as exc:
            log.info("could not nudge the leader's WAL: %s", str(exc).strip())

    def _apply_dynamic_config(self, ctx: StackContext) -> None:
        node = self.nodes(ctx)[0]
        auth = (REST_USER, ctx.secrets.patroni_rest)
        for node in self.nodes(ctx):
            try:
                status, text = request(
                    rest_url(node) + "/config", "PATCH", dynamic_config(ctx), timeout_s=5, auth=auth
                )
            except HttpProblem:
                continue
            if status == 200:
                return
            log.warning(
                "Patroni %s refused the dynamic config: HTTP %s %s", node.name, status, text
            )
        raise GracectlError(
            "postgres: no Patroni node accepted the dynamic configuration",
            hint=f"see {ctx.layout.node_log(node.name)}",
        )

    def _ensure_application_role(self, ctx: StackContext, leader: Node) -> None:
        pg = ctx.settings.postgres
        try:
            with psycopg.connect(
                host=HOST,
                port=leader.ports["postgres"],
                user=SUPERUSER,
                password=ctx.secrets.pg_superuser,
                dbname="postgres",
                autocommit=True,
                connect_timeout=5,
            ) as conn:
                role = sql.Identifier(pg.app_user)
                exists = conn.execute(
                    "SELECT 1 FROM pg_roles WHERE rolname = %s", (pg.app_user,)
                ).fetchone()
                verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
                conn.execute(
                    sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(
                        verb, role, sql.Literal(ctx.secrets.pg_app)
                    )
                )
                if not conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (pg.database,)
                ).fetchone():
                    conn.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(pg.database), role
                        )
                    )
        except psycopg.Error as exc:
            raise GracectlError(
                f"postgres: could not create the application role on {leader.name}: {exc}",
                hint=f"see {ctx.layout.node_log(leader.name)}",
            ) from exc

    def check_runnable(self, ctx: StackContext) -> None:
        """Patroni must be executable by the service user (a venv under /root is not)."""
        if ctx.user.name is None:
            return
        ok, output = ctx.user.can_run([patroni_executable(ctx), "--version"])
        if not ok:
            raise EnvironmentProblem(
                f"Patroni ({patroni_executable(ctx)}) cannot be run by user {ctx.user.name}: "
                f"{output.splitlines()[-1] if output else 'failed'}",
                hint="run scripts/setup.sh (installs Patroni under /opt/gracectl/patroni) or "
                "set postgres.patroni_bin",
            )
