"""`gracectl capacity`: the maximum sustainable throughput of each component, open-model."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.table import Table

from gracectl.capacity.model import CapacityJournal, ComponentCapacity, StepResult
from gracectl.capacity.runner import check_options, components_from, run_capacity
from gracectl.capacity.search import parse_slo
from gracectl.cli.render import console, err_console
from gracectl.config import load_settings

EXIT_HELP = (
    "Exit codes: 0 every component measured; 2 bad input (flags, --slo, a non-loopback "
    "--target); 3 could not run, or some component inconclusive (generator saturated, "
    "never saturated, prerequisite missing: the reason is printed)."
)
RULES_HELP = (
    "Each step holds an open-model offered rate (sends planned on a schedule, latency from "
    "the planned send time). A step is sustained when achieved >= 99% of offered, p99 and "
    "errors meet --slo. The rate doubles until a step breaks, then bisects twice. If the "
    "generator (load process CPU >= 90% of a core, >1% of sends held back by it, or its "
    "event loop stalled >= 100 ms) is what broke, the result is 'inconclusive: generator "
    "saturated at N/s', never a figure for the system. Knee: the lowest offered rate whose "
    "p99 exceeds 3x the lowest step's."
)
EPILOG = f"{RULES_HELP} {EXIT_HELP}"
LEGEND = (
    "rates in operations/s; p50/p99/p99.9 in ms from the planned send time; svc99: p99 from "
    "the actual send; late/gen: sends not on time / of them held back by the generator; CPU: "
    "busiest load process, share of one core"
)
STATUS_STYLE = {"measured": "green", "inconclusive": "yellow"}

ComponentOpt = Annotated[
    list[str] | None,
    typer.Option("--component", "-c",
                 help="postgres-write, postgres-read, redis, kafka, http or all (repeatable)."),
]  # fmt: skip


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _verdict(step: StepResult) -> str:
    if step.sustained:
        return "[green]sustained[/]"
    return "[yellow]generator[/]" if step.generator_saturated else "[red]broken[/]"


def component_table(result: ComponentCapacity) -> Table | str:
    """One row per step (by offered rate), the conclusion in the title, the figures and the
    native tool's ceiling in the caption."""
    style = STATUS_STYLE[result.status]
    title = (f"[bold]{result.component}[/] ({result.target}): [{style}]{result.status}[/]"
             + (f": {result.reason}" if result.reason else ""))  # fmt: skip
    if not result.steps:
        return title
    table = Table(
        title=title,
        title_justify="left",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
        pad_edge=False,
    )
    for column in ("offered", "achieved", "p50", "p99", "p99.9", "svc99", "err", "late/gen",
                   "CPU", "step"):  # fmt: skip
        table.add_column(column, justify="left" if column == "step" else "right")
    for step in sorted(result.steps, key=lambda s: s.offered_rate):
        table.add_row(
            _rate(step.offered_rate), _rate(step.achieved_rate), _ms(step.p50_ms),
            _ms(step.p99_ms), _ms(step.p999_ms), _ms(step.service_p99_ms), str(step.errors),
            f"{step.late}/{step.late_generator}", f"{step.generator_cpu:.0%}", _verdict(step),
        )  # fmt: skip
    native = (
        f"{result.native.tool} {_rate(result.native.throughput)} {result.native.unit}"
        if result.native else f"none ({result.native_error or '-'})"
    )  # fmt: skip
    ratio = "" if result.ratio_to_native is None else f", ratio {result.ratio_to_native:.2g}"
    limit = ("" if result.generator_limit_rate is None
             else f"; generator limit {_rate(result.generator_limit_rate)}/s")  # fmt: skip
    table.caption = (
        f"max sustainable {_rate(result.max_sustainable_rate)} {result.unit}; knee "
        f"{_rate(result.knee_rate)}/s{limit}; native: {native}{ratio}; "
        f"SLO {result.slo.describe()}\n{LEGEND}"
    )
    return table


def exit_code(journal: CapacityJournal) -> int:
    measured = journal.results and all(r.status == "measured" for r in journal.results)
    return 0 if measured else 3


def capacity(
    component: ComponentOpt = None,
    slo: Annotated[str, typer.Option("--slo", help="What a step must meet.")] = (
        "p99=50ms,errors=0.1%"
    ),
    target: Annotated[
        str | None, typer.Option("--target", help="URL the http component GETs (loopback).")
    ] = None,
    allow_remote_target: Annotated[
        bool, typer.Option("--allow-remote-target", help="Allow a non-loopback --target.")
    ] = False,
    step_seconds: Annotated[
        float, typer.Option("--step-seconds", help="How long each offered rate is held.")
    ] = 10.0,
    max_steps: Annotated[int, typer.Option("--max-steps", help="Steps per component.")] = 10,
    start_rate: Annotated[
        float | None, typer.Option("--start-rate", help="First offered rate (ops/s).")
    ] = None,
    no_native: Annotated[
        bool, typer.Option("--no-native", help="Skip pgbench / redis-benchmark / Kafka's.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the journal as JSON.")] = False,
) -> None:
    """Step each component's open-model offered rate up until it (or the generator) stops
    keeping up; report the maximum sustainable throughput, the knee, and the native tool's
    ceiling beside it."""
    components = components_from(component or ["all"])
    parsed_slo = parse_slo(slo)
    check_options(components, step_seconds, max_steps, start_rate, target, allow_remote_target)
    journal = run_capacity(
        load_settings(), components, parsed_slo, target=target, step_s=step_seconds,
        max_steps=max_steps, start_rate=start_rate, native=not no_native,
        notify=lambda s: err_console.print(f"• {s}", highlight=False, markup=False),
        allow_remote_target=allow_remote_target,
    )  # fmt: skip
    if as_json:
        print(journal.model_dump_json(indent=2))
    else:
        for result in journal.results:
            console.print(component_table(result))
        console.print(f"machine: {journal.machine.describe()}, load average "
                      f"{journal.machine.load_avg_1m or 0:.2f} at the start; profile "
                      f"{journal.profile}")  # fmt: skip
    raise typer.Exit(exit_code(journal))
