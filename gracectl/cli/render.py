"""Rich rendering shared by the commands."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from gracectl.journal import Journal
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


VERDICT_STYLE = {"pass": "green", "fail": "red", "inconclusive": "yellow"}
HEADLINE_METRICS = (
    "rto_s",
    "acked_writes",
    "lost_acked_writes",
    "indeterminate_writes",
    "recovered_indeterminate_writes",
    "duplicate_writes",
    "unexpected_writes",
    "write_unavailable_s",
    "read_availability",
    "max_replica_lag_bytes",
    "latency_before_p99_s",
    "latency_during_p99_s",
    "latency_after_p99_s",
    "late_fraction",
    "acked_events",
    "lost_acked_events",
    "duplicate_events",
    "out_of_order_events",
    "recovery_s",
    "produce_unavailable_longest_s",
    "unconsumed_events",
    "replay_matches",
    "replayed_events",
    "projection_hash_live",
    "projection_hash_replayed",
)


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def journal_summary(journal: Journal) -> Table:
    name = journal.scenario.get("name", "?")
    style = VERDICT_STYLE[journal.verdict]
    table = Table(
        title=f"{name}: [{style}]{journal.verdict.upper()}[/] ({journal.status}, "
        f"{journal.replication_mode} replication, profile {journal.profile})"
        + (f"\n{journal.reason}" if journal.reason else ""),
        title_justify="left",
    )
    table.add_column("finding / metric")
    table.add_column("value", justify="right")
    table.add_column("threshold")
    table.add_column("status")
    for f in journal.findings:
        table.add_row(
            f.name,
            _fmt(f.value),
            f.threshold,
            f"[{VERDICT_STYLE[f.status]}]{f.status}[/] {f.reason}",
        )
    for key in HEADLINE_METRICS:
        if key in journal.metrics and key not in {f.name for f in journal.findings}:
            table.add_row(key, _fmt(journal.metrics[key]), "", "")
    table.caption = f"history: {journal.history_path}"
    return table
