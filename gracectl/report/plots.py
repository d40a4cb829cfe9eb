"""The report's plots, built from journals alone: a chaos run's throughput and latency over
time with its fault windows shaded, and a capacity run's latency and achieved rate against
the offered rate with the knee and the maximum sustainable rate marked."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from gracectl.capacity.model import ComponentCapacity, StepResult
from gracectl.history import FaultWindow
from gracectl.journal import Journal
from gracectl.report.formatting import ms, rate
from gracectl.report.svg import Band, Chart, Marker, Point, Series

OK_COLORS = {"write": "#1f77b4", "read": "#2ca02c", "produce": "#9467bd", "consume": "#8c564b"}
FAILED_COLORS = {"write": "#d62728", "read": "#ff7f0e", "produce": "#e377c2", "consume": "#bcbd22"}
DEFAULT_COLOR, DEFAULT_FAILED = "#17becf", "#7f7f7f"
KNEE_COLOR, MAX_COLOR, SLO_COLOR, LIMIT_COLOR, RTO_COLOR = (
    "#d62728",
    "#2ca02c",
    "#7f7f7f",
    "#ff7f0e",
    "#9467bd",
)
P50_COLOR, P99_COLOR, P999_COLOR, ACHIEVED_COLOR = "#1f77b4", "#d62728", "#9467bd", "#1f77b4"


def fault_windows(journal: Journal) -> list[FaultWindow]:
    """The journal's fault windows (stored as plain objects); malformed entries are skipped."""
    windows = []
    for raw in journal.fault_windows:
        try:
            windows.append(FaultWindow.model_validate(raw))
        except ValidationError:
            continue
    return windows


def time_origin(journal: Journal) -> float:
    """Time zero of a run's plots and tables: when the load started (the runner's clock for
    fault times), else the first planned operation, else the journal's start."""
    started = next((a.started for a in journal.actions if a.name == "load.start"), None)
    if started is not None:
        return started
    return min((s.origin for s in journal.timeseries), default=journal.start)


def _fault_bands(journal: Journal, origin: float, run_end: float) -> tuple[Band, ...]:
    bands = []
    for window in fault_windows(journal):
        end = window.end if window.end is not None else run_end
        healed = "" if window.end is not None else " (never healed)"
        bands.append(
            Band(
                start=window.start - origin,
                end=end - origin,
                label=f"{window.name} {window.target}",
                title=f"{window.name} on {window.target}: {window.start - origin:.1f} s to "
                f"{end - origin:.1f} s{healed}",
            )
        )
    return tuple(bands)


def _rto_marker(journal: Journal, origin: float) -> tuple[Marker, ...]:
    rto = journal.metrics.get("rto_s")
    windows = fault_windows(journal)
    if not isinstance(rto, int | float) or isinstance(rto, bool) or not windows:
        return ()
    first = min(w.start for w in windows) - origin
    return (Marker(first + rto, f"writes resume: RTO {rto:.1f} s", RTO_COLOR),)


def chaos_charts(journal: Journal, prefix: str) -> list[Chart]:
    """Throughput (ok/s and failed/s per kind of operation) and p50/p99 latency per second,
    with the fault windows shaded; none when the journal has no series (an old journal or
    a run that never started its load)."""
    if not journal.timeseries:
        return []
    origin = time_origin(journal)
    last = max(
        (s.origin + b.t_s + s.bucket_s for s in journal.timeseries for b in s.buckets),
        default=origin,
    )
    bands = _fault_bands(journal, origin, last)
    throughput: list[Series] = []
    latency: list[Series] = []
    for s in journal.timeseries:
        shift = s.origin - origin + s.bucket_s / 2
        ok: list[Point] = [(b.t_s + shift, b.ok / s.bucket_s) for b in s.buckets]
        failed: list[Point] = [(b.t_s + shift, (b.failed + b.info) / s.bucket_s) for b in s.buckets]
        ok_color = OK_COLORS.get(s.op, DEFAULT_COLOR)
        throughput.append(Series(f"{s.op} ok/s", tuple(ok), ok_color))
        throughput.append(
            Series(
                f"{s.op} failed or indeterminate/s",
                tuple(failed),
                FAILED_COLORS.get(s.op, DEFAULT_FAILED),
                dashed=True,
            )
        )
        p99: list[Point] = [
            (b.t_s + shift, None if b.p99_s is None else b.p99_s * 1000) for b in s.buckets
        ]
        p50: list[Point] = [
            (b.t_s + shift, None if b.p50_s is None else b.p50_s * 1000) for b in s.buckets
        ]
        latency.append(Series(f"{s.op} p99", tuple(p99), ok_color))
        latency.append(Series(f"{s.op} p50", tuple(p50), ok_color, dashed=True))
    rto = _rto_marker(journal, origin)
    return [
        Chart(
            f"{prefix}-throughput",
            "Throughput per second (by completion time)",
            "seconds since the load started",
            "operations / s",
            tuple(throughput),
            bands=bands,
            markers=rto,
        ),
        Chart(
            f"{prefix}-latency",
            "Latency per second, from the planned send time",
            "seconds since the load started (by planned send time)",
            "latency, ms (log)",
            tuple(latency),
            bands=bands,
            markers=rto,
            log_y=True,
        ),
    ]


def _step_tip(step: StepResult, unit: str) -> str:
    flags = [
        f
        for f, on in (
            ("sustained", step.sustained),
            ("generator saturated", step.generator_saturated),
        )
        if on
    ]
    return (
        f"offered {rate(step.offered_rate, unit)}: achieved {rate(step.achieved_rate, unit)}, "
        f"p50 {ms(step.p50_ms)}, p99 {ms(step.p99_ms)}, p99.9 {ms(step.p999_ms)}, "
        f"errors {step.errors}, late {step.late}, generator CPU {step.generator_cpu:.0%}"
        + (f" ({', '.join(flags)})" if flags else "")
    )


def _rate_markers(result: ComponentCapacity) -> list[Marker]:
    markers = []
    if result.knee_rate is not None:
        markers.append(Marker(result.knee_rate, f"knee {rate(result.knee_rate)}", KNEE_COLOR))
    if result.max_sustainable_rate is not None:
        markers.append(
            Marker(
                result.max_sustainable_rate,
                f"max sustainable {rate(result.max_sustainable_rate)}",
                MAX_COLOR,
            )
        )
    if result.generator_limit_rate is not None:
        markers.append(
            Marker(
                result.generator_limit_rate,
                f"generator saturated {rate(result.generator_limit_rate)}",
                LIMIT_COLOR,
            )
        )
    return markers


def capacity_charts(result: ComponentCapacity, prefix: str) -> list[Chart]:
    """Latency (p50/p99/p99.9) and achieved rate against the offered rate, one point per
    step, with the knee, the maximum sustainable rate and the SLO marked."""
    if not result.steps:
        return []
    steps = sorted(result.steps, key=lambda s: s.offered_rate)
    tips = tuple(_step_tip(s, result.unit) for s in steps)
    offered = [s.offered_rate for s in steps]

    def per_step(label: str, values: Sequence[float | None], color: str) -> Series:
        """A line through one dot per step (at its offered rate, its figures on hover)."""
        return Series(
            label, tuple(zip(offered, values, strict=True)), color, dots=True, point_titles=tips
        )

    latency = (
        per_step("p50", [s.p50_ms for s in steps], P50_COLOR),
        per_step("p99", [s.p99_ms for s in steps], P99_COLOR),
        Series(
            "p99.9",
            tuple(zip(offered, [s.p999_ms for s in steps], strict=True)),
            P999_COLOR,
            dashed=True,
        ),
    )
    saturated = [s for s in steps if s.generator_saturated]
    achieved = [
        Series("offered (ideal)", tuple((x, x) for x in offered), SLO_COLOR, dashed=True),
        per_step(f"achieved {result.unit}", [s.achieved_rate for s in steps], ACHIEVED_COLOR),
    ]
    if saturated:
        achieved.append(
            Series(
                "generator saturated",
                tuple((s.offered_rate, s.achieved_rate) for s in saturated),
                LIMIT_COLOR,
                line=False,
                dots=True,
                point_titles=tuple(_step_tip(s, result.unit) for s in saturated),
            )
        )
    markers = _rate_markers(result)
    slo = Marker(result.slo.p99_ms, f"SLO p99 {result.slo.p99_ms:g} ms", SLO_COLOR, horizontal=True)
    x_label = f"offered rate, {result.unit}"
    return [
        Chart(
            f"{prefix}-latency",
            f"{result.component}: latency against offered rate",
            x_label,
            "latency from planned send, ms (log)",
            latency,
            markers=(*markers, slo),
            log_y=True,
        ),
        Chart(
            f"{prefix}-achieved",
            f"{result.component}: achieved against offered rate",
            x_label,
            f"achieved, {result.unit}",
            tuple(achieved),
            markers=tuple(markers),
        ),
    ]
