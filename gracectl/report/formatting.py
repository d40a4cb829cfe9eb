"""Numbers and times as every report format prints them."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from gracectl.capacity.model import ComponentCapacity, StepResult
from gracectl.machine import MachineInfo


def number(value: object) -> str:
    """A metric value: '-' for None, 4 significant digits for floats, thousands separators
    for large integers."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if abs(value) >= 10_000:
            return f"{value:,.0f}"
        return f"{value:.4g}"
    return str(value)


def rate(value: float | None, unit: str = "/s") -> str:
    return "-" if value is None else f"{value:,.0f} {unit}".strip()


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g} ms" if value < 100 else f"{value:,.0f} ms"


def ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def timestamp(unix: float | None) -> str:
    if unix is None:
        return "-"
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def machine_line(machine: MachineInfo | None) -> str:
    if machine is None:
        return "machine not recorded in this journal"
    parts = [machine.describe()]
    if machine.hostname:
        parts.append(f"host {machine.hostname}")
    if machine.kernel:
        parts.append(f"kernel {machine.kernel}")
    if machine.load_avg_1m is not None:
        parts.append(f"load {machine.load_avg_1m:.2f} at start")
    return ", ".join(parts)


def native_ceiling(result: ComponentCapacity) -> str:
    """The native tool's figure beside gracectl's, or why there is none."""
    if result.native is None:
        return f"none: {result.native_error}" if result.native_error else "-"
    native = result.native
    return (
        f"{rate(native.throughput, native.unit)} ({native.tool}), "
        f"gracectl/native {ratio(result.ratio_to_native)}"
    )


STEP_HEADER: tuple[str, ...] = (
    "offered", "achieved", "p50", "p99", "p99.9", "service p99", "errors", "late",
    "generator CPU", "sustained",
)  # fmt: skip


def step_cells(step: StepResult) -> tuple[str, ...]:
    """A capacity step as table cells, in `STEP_HEADER` order (latencies from the planned
    send; service p99 from the actual send, without the generator's delays)."""
    if step.sustained:
        sustained = "yes"
    else:
        sustained = "no, generator saturated" if step.generator_saturated else "no"
    return (
        rate(step.offered_rate, ""),
        rate(step.achieved_rate, ""),
        ms(step.p50_ms),
        ms(step.p99_ms),
        ms(step.p999_ms),
        ms(step.service_p99_ms),
        f"{step.errors:,}",
        f"{step.late:,}",
        f"{step.generator_cpu:.0%}",
        sustained,
    )
