"""Entry point: the Typer app, and the one place gracectl errors become exit codes."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from gracectl import __version__
from gracectl.cli import (
    capacity_commands,
    chaos_commands,
    config_commands,
    replay_commands,
    report_commands,
    scenario_commands,
    stack_commands,
    verify_commands,
)
from gracectl.cli.render import err_console
from gracectl.errors import GracectlError

EPILOG = "Exit codes: 0 ok, 1 a claim or invariant failed, 2 bad input, 3 could not run."

app = typer.Typer(
    name="gracectl",
    help="Bring a Grace deployment's infrastructure up for real, break it, check the claims.",
    epilog=EPILOG,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command(epilog=EPILOG)(stack_commands.up)
app.command(epilog=EPILOG)(stack_commands.down)
app.command(epilog=EPILOG)(stack_commands.status)
app.command(epilog=EPILOG)(stack_commands.env)
app.command(epilog=report_commands.EXIT_HELP)(report_commands.report)
app.command(epilog=replay_commands.EXIT_HELP)(replay_commands.replay)
app.command(epilog=capacity_commands.EPILOG)(capacity_commands.capacity)
app.command(epilog=verify_commands.EXIT_HELP)(verify_commands.verify)
app.add_typer(config_commands.app, name="config")
app.add_typer(scenario_commands.app, name="scenario")
app.add_typer(chaos_commands.app, name="chaos")


def _version(value: bool) -> None:
    if value:
        print(f"gracectl {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
        stream=sys.stderr,
    )


def run() -> None:
    try:
        app()
    except GracectlError as exc:
        err_console.print(f"[red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
        if exc.details:
            err_console.print(exc.details, highlight=False, markup=False)
        if exc.hint:
            err_console.print(f"hint: {exc.hint}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
