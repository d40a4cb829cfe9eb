"""`gracectl config show`: the effective configuration and where it came from."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from gracectl.cli.render import console
from gracectl.config import load_settings
from gracectl.topology import plan

app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


@app.command("show")
def show(
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="ha or dev.")] = None,
    ports: Annotated[bool, typer.Option("--ports", help="Also list the port plan.")] = False,
) -> None:
    """Print the effective config: profile defaults + gracectl.toml + GRACECTL_* variables."""
    settings = load_settings(profile)
    document = settings.model_dump(mode="json")
    if ports:
        document["ports"] = {n.name: n.ports for n in plan(settings).nodes}
    console.print_json(json.dumps(document))
