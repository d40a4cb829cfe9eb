"""`gracectl scenario list / validate / schema`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gracectl.cli.render import console
from gracectl.scenario import json_schema, list_bundled, load_scenario

app = typer.Typer(help="Scenario files: list, validate, JSON Schema.", no_args_is_help=True)


@app.command("list")
def list_scenarios() -> None:
    """The bundled scenarios in scenarios/."""
    table = Table("file", "name", "faults", "description")
    for path, scenario in list_bundled():
        if isinstance(scenario, str):
            table.add_row(path.name, "[red]invalid[/]", "", scenario)
        else:
            faults = ", ".join(f.fault for f in scenario.faults)
            table.add_row(path.name, scenario.name, faults, scenario.description.strip()[:80])
    console.print(table)


@app.command("validate")
def validate(scenario_file: Annotated[Path, typer.Argument(help="A scenario YAML file.")]) -> None:
    """Check a scenario file; exit 2 with file, field and reason when it is invalid."""
    scenario = load_scenario(scenario_file)
    console.print(
        f"{scenario_file}: valid scenario {scenario.name!r} "
        f"({len(scenario.faults)} fault(s), {scenario.duration_s:g} s of load)"
    )


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of scenario files."""
    print(json.dumps(json_schema(), indent=2))
