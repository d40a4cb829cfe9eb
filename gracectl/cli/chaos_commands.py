"""`gracectl chaos run / kill-primary / kill-node / pause`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gracectl import shortcuts
from gracectl.cli.render import console, err_console, journal_summary
from gracectl.config import load_settings
from gracectl.journal import Journal
from gracectl.runner import run_scenario
from gracectl.scenario import Scenario, load_scenario

EXIT_HELP = (
    "Exit codes: 0 every invariant passed; 1 an invariant failed; 2 bad input (scenario, "
    "flags, config); 3 could not run, or inconclusive (reason printed)."
)
app = typer.Typer(
    help="Break the running stack under load and check what happened.",
    epilog=EXIT_HELP,
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result object as JSON.")]
Duration = Annotated[float, typer.Option("--duration", help="Seconds of load.", min=5)]
Users = Annotated[int, typer.Option("--users", help="Locust users (2/3 writers).", min=1)]
Rate = Annotated[float, typer.Option("--rate", help="Offered operations/s, total.", min=1)]
FaultAt = Annotated[float, typer.Option("--fault-at", help="Seconds into the load.", min=0)]
Mode = Annotated[
    str | None,
    typer.Option("--replication-mode", help="synchronous or asynchronous, for this run."),
]


def exit_code(journal: Journal) -> int:
    return journal.exit_code()


def _run(scenario: Scenario, as_json: bool) -> None:
    settings = load_settings()
    journal = run_scenario(settings, scenario, notify=lambda s: err_console.print(f"• {s}"))
    if as_json:
        print(json.dumps(journal.result(), indent=2))
    else:
        console.print(journal_summary(journal))
    raise typer.Exit(exit_code(journal))


@app.command("run", epilog=EXIT_HELP)
def run(
    scenario_file: Annotated[Path, typer.Argument(help="A scenario YAML file.")],
    as_json: JsonFlag = False,
) -> None:
    """Run a scenario file against the running stack."""
    _run(load_scenario(scenario_file), as_json)


@app.command("kill-primary", epilog=EXIT_HELP)
def kill_primary(
    duration: Duration = 45,
    users: Users = 6,
    rate: Rate = 300,
    fault_at: FaultAt = 8,
    postmaster_only: Annotated[
        bool,
        typer.Option("--postmaster-only", help="Kill only the postmaster, not the whole node."),
    ] = False,
    max_rto: Annotated[float, typer.Option("--max-rto", help="RTO threshold, seconds.")] = 35,
    replication_mode: Mode = None,
    as_json: JsonFlag = False,
) -> None:
    """SIGKILL the PostgreSQL leader (read from Patroni at fault time) under load."""
    _run(
        shortcuts.kill_primary(
            duration, users, rate, postmaster_only, fault_at, max_rto, replication_mode
        ),
        as_json,
    )


@app.command("kill-node", epilog=EXIT_HELP)
def kill_node(
    node: Annotated[str, typer.Argument(help="Node name (pg-1) or selector (redis:master).")],
    duration: Duration = 30,
    users: Users = 6,
    rate: Rate = 300,
    fault_at: FaultAt = 8,
    replication_mode: Mode = None,
    as_json: JsonFlag = False,
) -> None:
    """SIGKILL one node (all its processes) under load; the rollback restarts it."""
    _run(shortcuts.kill_node(node, duration, users, rate, fault_at, replication_mode), as_json)


@app.command("pause", epilog=EXIT_HELP)
def pause(
    node: Annotated[str, typer.Argument(help="Node name (pg-1) or selector (postgres:leader).")],
    pause_for: Annotated[float, typer.Option("--for", help="Seconds paused.", min=0.1)] = 2,
    duration: Duration = 20,
    users: Users = 4,
    rate: Rate = 200,
    fault_at: FaultAt = 6,
    replication_mode: Mode = None,
    as_json: JsonFlag = False,
) -> None:
    """SIGSTOP one node for a while, then SIGCONT it, under load."""
    _run(
        shortcuts.pause_node(node, pause_for, duration, users, rate, fault_at, replication_mode),
        as_json,
    )
