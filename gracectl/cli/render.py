"""Rich rendering shared by the commands."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from gracectl.status import StackStatus

console = Console()
err_console = Console(stderr=True)

STATE_STYLE = {"running": "green", "unhealthy": "yellow", "stopped": "red"}


def status_table(status: StackStatus) -> Table:
    table = Table(title=f"gracectl stack ({status.profile}) at {status.home}", title_justify="left")
    for column in ("name", "kind", "role", "state", "pid", "endpoint", "lag", "detail"):
        table.add_column(column, overflow="fold")
    for c in status.components:
        table.add_row(
            c.name,
            c.kind,
            c.role,
            f"[{STATE_STYLE[c.state]}]{c.state}[/]",
            str(c.pid or "-"),
            c.endpoint,
            "-" if c.lag_bytes is None else str(c.lag_bytes),
            c.detail,
        )
    return table


def endpoints_table(status: StackStatus) -> Table:
    ep = status.endpoints
    table = Table(show_header=False, box=None)
    table.add_row("PostgreSQL read-write", ep.postgres_rw)
    table.add_row("PostgreSQL read-only", ep.postgres_ro)
    table.add_row("database / user", f"{ep.postgres_database} / {ep.postgres_user}")
    table.add_row("Redis Sentinels", ", ".join(ep.redis_sentinels))
    table.add_row("Redis master name", ep.redis_master_name)
    table.add_row("HAProxy stats", ep.haproxy_stats)
    table.add_row("credentials", ep.credentials)
    return table
