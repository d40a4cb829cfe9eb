"""`gracectl up / down / status / env`."""

from __future__ import annotations

import json
import shlex
from typing import Annotated

import typer
from rich.status import Status

from gracectl import stack, teardown
from gracectl.cli.render import console, endpoints_table, err_console, status_table
from gracectl.config import load_settings

ProfileOption = Annotated[
    str | None,
    typer.Option("--profile", "-p", help="Topology: ha (the Grace document's) or dev (smallest)."),
]


class _ProgressPrinter:
    def __init__(self, spinner: Status) -> None:
        self.spinner = spinner
        self.done: set[str] = set()

    def __call__(self, step: str, detail: str | None) -> None:
        if detail is None:
            if step not in self.done:
                self.done.add(step)
                err_console.print(f"[green]✓[/] {step}")
            return
        self.spinner.update(f"{step}: [dim]{detail}[/]")


def up(profile: ProfileOption = None) -> None:
    """Start the stack (etcd, Patroni/PostgreSQL, HAProxy, Redis + Sentinel) and wait until ready.

    A second `up` is a no-op that says so, and starts any member that is not running.
    Exit codes: 0 ready, 2 bad config or environment, 3 a component did not become ready.
    """
    home = load_settings(profile).home_path
    settings = load_settings(profile, fallback_profile=stack.recorded_profile(home))
    with Status("starting", console=err_console) as spinner:
        result = stack.up(settings, progress=_ProgressPrinter(spinner))
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")
    if result.already_running:
        err_console.print(f"stack at {settings.home_path} is already up; nothing to do")
    else:
        err_console.print(f"stack up in {result.seconds:.1f} s ({len(result.started)} started)")
    console.print(endpoints_table(stack.status(settings)))


def down(
    purge: Annotated[
        bool, typer.Option("--purge", help="Also delete all data and secrets.")
    ] = False,
) -> None:
    """Stop every process of the stack (PID and start time verified). Data kept unless --purge."""
    settings = load_settings()
    with Status("stopping", console=err_console) as spinner:
        result = teardown.down(
            settings, purge=purge, progress=lambda s, d: spinner.update(f"{s} {d or ''}")
        )
    left = teardown.stack_processes(settings.home_path)
    err_console.print(
        f"stopped {len(result.stopped)} program(s)"
        + (
            f", killed {len(result.leftovers_killed)} leftover(s)"
            if result.leftovers_killed
            else ""
        )
        + ("; data purged" if result.purged else "; data kept")
    )
    if left:
        pids = ", ".join(str(p.pid) for p in left)
        raise typer.Exit(_fail(f"processes still alive after down: {pids}"))


def _fail(message: str) -> int:
    err_console.print(f"[red]error:[/] {message}")
    return 3


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Live status from the components themselves (Patroni, etcd, Sentinel, HAProxy)."""
    result = stack.status(load_settings())
    if as_json:
        console.print_json(result.model_dump_json())
        return
    console.print(status_table(result))
    console.print(endpoints_table(result))


def env(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """Print DSNs and credentials as shell exports: eval "$(gracectl env)"."""
    variables = stack.connection_env(load_settings())
    if as_json:
        print(json.dumps(variables, indent=2))
        return
    for name, value in variables.items():
        print(f"export {name}={shlex.quote(value)}")
