"""`gracectl verify`: test the Grace document's claims and print claim | claimed | measured |
verdict | evidence."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gracectl.capacity.model import Slo
from gracectl.capacity.targets import check_http_target
from gracectl.cli.render import VERDICT_STYLE, console, err_console
from gracectl.config import load_settings
from gracectl.errors import ConfigError
from gracectl.stack import status as stack_status
from gracectl.verify.claims import default_claims_file, load_claims
from gracectl.verify.model import VerifyJournal
from gracectl.verify.runner import JOURNAL_NAME, run_verify, verify_run_dir

EXIT_HELP = (
    "Exit codes: 0 every claim passes; 1 a claim fails; 2 bad input (claims file, flags); "
    "3 no claim fails but some are inconclusive, or verify could not run."
)
SLO_HINT = "write it like p99=50ms,errors=0.1% (p99 in ms or s; errors in % or as a fraction)"
_SLO_ITEM = re.compile(r"^(p99|errors)=([0-9]*\.?[0-9]+)(ms|s|%)?$")


def parse_slo(text: str) -> Slo:
    """`p99=50ms,errors=0.1%` -> Slo; a missing item keeps its default."""
    values: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = _SLO_ITEM.match(item)
        if match is None:
            raise ConfigError(f"--slo: cannot read {item!r}", hint=SLO_HINT)
        key, number, suffix = match.group(1), float(match.group(2)), match.group(3)
        if key == "p99" and suffix in (None, "ms", "s"):
            values["p99_ms"] = number * 1000 if suffix == "s" else number
        elif key == "errors" and suffix in (None, "%"):
            values["error_fraction"] = number / 100 if suffix == "%" else number
        else:
            raise ConfigError(f"--slo: {item!r} has the wrong unit", hint=SLO_HINT)
    try:
        return Slo.model_validate(values)
    except ValueError as exc:
        raise ConfigError(f"--slo: {text!r} is out of range", hint=SLO_HINT) from exc


def verify_table(journal: VerifyJournal) -> Table:
    counts = journal.counts()
    table = Table(
        title=f"Claims of the Grace document: {counts['pass']} pass, {counts['fail']} fail, "
        f"{counts['inconclusive']} inconclusive (profile {journal.profile})",
        title_justify="left",
        show_lines=True,
    )
    table.add_column("claim", overflow="fold", ratio=3)
    table.add_column("claimed", overflow="fold", ratio=1)
    table.add_column("measured", overflow="fold", ratio=3)
    table.add_column("verdict", overflow="fold", ratio=4)
    table.add_column("evidence", overflow="fold", ratio=3)
    for r in journal.results:
        style = VERDICT_STYLE[r.verdict]
        table.add_row(
            f"{r.id}\n[dim]{r.claim}[/]",
            r.claimed,
            r.measured,
            f"[{style}]{r.verdict}[/]" + (f"\n{r.reason}" if r.reason else ""),
            "\n".join(r.evidence) or "-",
        )
        if r.projection:
            table.add_row("  [italic]projection (not a measurement)[/]", "",
                          f"[italic]{r.projection}[/]", "[dim]does not decide[/]", "")  # fmt: skip
    table.caption = f"machine: {machine_line(journal)}"
    table.caption_justify = "left"
    return table


def machine_line(journal: VerifyJournal) -> str:
    m = journal.machine
    load = f", load {m.load_avg_1m:.2f} at the start" if m.load_avg_1m is not None else ""
    return f"{m.describe()}{load} (host {m.hostname or '?'}, kernel {m.kernel or '?'})"


def verify(
    claims_file: Annotated[
        Path | None,
        typer.Option("--claims", help="Claims file (default: the Grace document's claims)."),
    ] = None,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Only this claim id (repeatable).")
    ] = None,
    slo: Annotated[
        str | None, typer.Option("--slo", help="Capacity SLO, e.g. p99=50ms,errors=0.1%.")
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="A Grace HTTP endpoint for the http claims.")
    ] = None,
    allow_remote_target: Annotated[
        bool, typer.Option("--allow-remote-target", help="Allow a non-loopback --target.")
    ] = False,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Short capacity steps; scenarios' lead-in before the first fault cut to 5 s.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verify journal.")] = False,
) -> None:
    """Run the capacity runs and chaos scenarios each claim rests on, and judge the claims:
    pass only on a measurement, projections labelled and never deciding."""
    path = claims_file or default_claims_file()
    load_claims(path).select(only)  # bad file or id: exit 2 before anything runs
    parsed_slo = parse_slo(slo) if slo else None
    if target is not None:
        # a bad URL, or a remote one without the opt-in: exit 2 before anything runs
        check_http_target(target, allow_remote_target)
    settings = load_settings()
    stack_status(settings)  # no stack: exit 3 with a hint, before anything runs
    run_dir = verify_run_dir(settings)
    journal = run_verify(
        settings, path, only=only, slo=parsed_slo, target=target, quick=quick,
        notify=lambda s: err_console.print(f"• {s}", highlight=False), run_dir=run_dir,
        allow_remote_target=allow_remote_target,
    )  # fmt: skip
    journal_path = run_dir / JOURNAL_NAME
    if as_json:
        print(json.dumps({"journal": str(journal_path), **journal.model_dump(mode="json")},
                         indent=2))  # fmt: skip
    else:
        console.print(verify_table(journal))
        console.print(f"journal: {journal_path}", highlight=False, soft_wrap=True)
    raise typer.Exit(journal.exit_code())
