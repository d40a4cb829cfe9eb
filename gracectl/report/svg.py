"""Line charts as inline SVG markup, drawn in Python: no script library, no external file.

A `Chart` is data (series, shaded bands, marker lines); `render_chart` turns it into one
`<svg class="plot">` element. Every text is escaped; hovering a band, line or point shows
its `<title>` as a tooltip without any script.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html import escape

Point = tuple[float, float | None]  # y None: no sample here, the line breaks

WIDTH, HEIGHT = 860, 300
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 40, 74  # margins around the plotting area
CHAR_W = 6.5  # average glyph width at the legend's font size, for layout


@dataclass(frozen=True)
class Series:
    label: str
    points: tuple[Point, ...]
    color: str
    dashed: bool = False
    line: bool = True  # False: points only
    dots: bool = False
    point_titles: tuple[str, ...] = ()  # a tooltip per point (dots only)


@dataclass(frozen=True)
class Band:
    """A shaded x range (a fault window)."""

    start: float
    end: float
    label: str
    title: str = ""


@dataclass(frozen=True)
class Marker:
    """A labelled line across the plot: vertical at x (`horizontal` False) or at y."""

    at: float
    label: str
    color: str
    horizontal: bool = False


@dataclass(frozen=True)
class Chart:
    plot_id: str
    title: str
    x_label: str
    y_label: str
    series: tuple[Series, ...]
    bands: tuple[Band, ...] = ()
    markers: tuple[Marker, ...] = ()
    log_y: bool = False
    width: int = WIDTH
    height: int = HEIGHT


def nice_step(raw: float) -> float:
    """The smallest of 1, 2, 5 x 10^k at or above `raw` (> 0)."""
    scale = 10.0 ** math.floor(math.log10(raw))
    for nice in (1.0, 2.0, 5.0):
        if raw / scale <= nice + 1e-9:
            return nice * scale
    return 10.0 * scale


def nice_ticks(low: float, high: float, target: int = 5) -> list[float]:
    """Round tick values covering [low, high]: the first <= low, the last >= high."""
    if high <= low:
        high = low + 1.0
    step = nice_step((high - low) / target)
    first = math.floor(low / step + 1e-9) * step
    ticks = [first]
    while ticks[-1] < high - 1e-9 * step:
        ticks.append(first + len(ticks) * step)
    return [round(t, 10) for t in ticks]


def log_ticks(low: float, high: float) -> list[float]:
    """Decades covering [low, high] (both > 0), at least two."""
    first = math.floor(math.log10(low))
    last = max(math.ceil(math.log10(high)), first + 1)
    return [10.0**k for k in range(first, last + 1)]


def tick_label(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if abs(value) >= 1000:
        return f"{value / 1000:g}k"
    return f"{round(value, 6):g}"


@dataclass(frozen=True)
class _Frame:
    """Data-to-pixel mapping of one chart."""

    x0: float
    x1: float
    y0: float
    y1: float
    x_low: float
    x_high: float
    y_low: float
    y_high: float
    log_y: bool

    def x(self, value: float) -> float:
        span = self.x_high - self.x_low
        return self.x0 + (value - self.x_low) / span * (self.x1 - self.x0)

    def y(self, value: float) -> float:
        if self.log_y:
            value, low, high = math.log10(value), math.log10(self.y_low), math.log10(self.y_high)
        else:
            low, high = self.y_low, self.y_high
        return self.y1 - (value - low) / (high - low) * (self.y1 - self.y0)

    def clamp_x(self, value: float) -> float:
        return min(max(self.x(value), self.x0), self.x1)


def _drawable(chart: Chart, y: float | None) -> bool:
    return y is not None and math.isfinite(y) and (y > 0 or not chart.log_y)


def _frame(chart: Chart) -> tuple[_Frame, list[float], list[float]]:
    xs = [x for s in chart.series for x, _ in s.points]
    xs += [m.at for m in chart.markers if not m.horizontal]
    xs += [v for b in chart.bands for v in (b.start, b.end)]
    ys = [y for s in chart.series for _, y in s.points if y is not None and _drawable(chart, y)]
    ys += [m.at for m in chart.markers if m.horizontal and _drawable(chart, m.at)]
    x_low, x_high = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x_high <= x_low:
        x_low, x_high = x_low - 1.0, x_high + 1.0
    if chart.log_y:
        y_ticks = log_ticks(min(ys), max(ys)) if ys else [1.0, 10.0]
    else:
        low = min([0.0, *ys])
        y_ticks = nice_ticks(low, max(ys) if ys else 1.0)
    x_ticks = [t for t in nice_ticks(x_low, x_high, 8) if x_low - 1e-9 <= t <= x_high + 1e-9]
    frame = _Frame(
        x0=LEFT,
        x1=chart.width - RIGHT,
        y0=TOP,
        y1=chart.height - BOTTOM,
        x_low=x_low,
        x_high=x_high,
        y_low=y_ticks[0],
        y_high=y_ticks[-1],
        log_y=chart.log_y,
    )
    return frame, x_ticks, y_ticks


def _f(value: float) -> str:
    return f"{value:.1f}"


def _runs(chart: Chart, points: Sequence[Point]) -> Iterator[list[tuple[float, float]]]:
    """Stretches of drawable points; a missing sample breaks the line."""
    run: list[tuple[float, float]] = []
    for x, y in points:
        if y is not None and _drawable(chart, y):
            run.append((x, y))
        elif run:
            yield run
            run = []
    if run:
        yield run


def _axes(chart: Chart, frame: _Frame, x_ticks: list[float], y_ticks: list[float]) -> list[str]:
    out = ['<g class="axes">']
    for tick in y_ticks:
        y = _f(frame.y(tick))
        out.append(
            f'<line class="grid" x1="{_f(frame.x0)}" x2="{_f(frame.x1)}" y1="{y}" y2="{y}"/>'
        )
        out.append(
            f'<text class="tick" x="{_f(frame.x0 - 6)}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(tick_label(tick))}</text>'
        )
    for tick in x_ticks:
        x = _f(frame.x(tick))
        out.append(
            f'<line class="grid" x1="{x}" x2="{x}" y1="{_f(frame.y0)}" y2="{_f(frame.y1)}"/>'
        )
        out.append(
            f'<text class="tick" x="{x}" y="{_f(frame.y1 + 16)}" '
            f'text-anchor="middle">{escape(tick_label(tick))}</text>'
        )
    out.append(
        f'<rect class="frame" x="{_f(frame.x0)}" y="{_f(frame.y0)}" '
        f'width="{_f(frame.x1 - frame.x0)}" height="{_f(frame.y1 - frame.y0)}"/>'
    )
    middle_x = (frame.x0 + frame.x1) / 2
    out.append(
        f'<text class="axis-label" x="{_f(middle_x)}" y="{_f(frame.y1 + 34)}" '
        f'text-anchor="middle">{escape(chart.x_label)}</text>'
    )
    middle_y = (frame.y0 + frame.y1) / 2
    out.append(
        f'<text class="axis-label" x="14" y="{_f(middle_y)}" text-anchor="middle" '
        f'transform="rotate(-90 14 {_f(middle_y)})">{escape(chart.y_label)}</text>'
    )
    out.append("</g>")
    return out


def _bands(chart: Chart, frame: _Frame) -> list[str]:
    out = ['<g class="bands">']
    for band in chart.bands:
        left, right = frame.clamp_x(band.start), frame.clamp_x(band.end)
        title = escape(band.title or band.label)
        out.append(
            f'<rect class="band fault" x="{_f(left)}" y="{_f(frame.y0)}" '
            f'width="{_f(max(right - left, 1.0))}" height="{_f(frame.y1 - frame.y0)}">'
            f"<title>{title}</title></rect>"
        )
        out.append(
            f'<text class="band-label" x="{_f(left + 4)}" y="{_f(frame.y0 + 12)}">'
            f"{escape(band.label)}</text>"
        )
    out.append("</g>")
    return out


def _series(chart: Chart, frame: _Frame) -> list[str]:
    out = ['<g class="series">']
    for series in chart.series:
        dash = ' stroke-dasharray="6 4"' if series.dashed else ""
        label = escape(series.label)
        if series.line:
            path = " ".join(
                "M " + " L ".join(f"{_f(frame.x(x))},{_f(frame.y(y))}" for x, y in run)
                for run in _runs(chart, series.points)
            )
            if path:
                out.append(
                    f'<path class="line" d="{path}" stroke="{escape(series.color)}"'
                    f"{dash}><title>{label}</title></path>"
                )
        if series.dots:
            for index, (x, y) in enumerate(series.points):
                if y is None or not _drawable(chart, y):
                    continue
                titles = series.point_titles
                tip = titles[index] if index < len(titles) else f"{series.label}: {y:g}"
                out.append(
                    f'<circle class="point" cx="{_f(frame.x(x))}" cy="{_f(frame.y(y))}" r="3.5" '
                    f'fill="{escape(series.color)}"><title>{escape(tip)}</title></circle>'
                )
    out.append("</g>")
    return out


def _markers(chart: Chart, frame: _Frame) -> list[str]:
    out = ['<g class="markers">']
    for index, marker in enumerate(chart.markers):
        color = escape(marker.color)
        label = escape(marker.label)
        if marker.horizontal:
            if not _drawable(chart, marker.at):
                continue
            at_y = frame.y(marker.at)
            out.append(
                f'<line class="marker" x1="{_f(frame.x0)}" x2="{_f(frame.x1)}" '
                f'y1="{_f(at_y)}" y2="{_f(at_y)}" stroke="{color}">'
                f"<title>{label}</title></line>"
            )
            out.append(
                f'<text class="marker-label" x="{_f(frame.x1 - 4)}" y="{_f(at_y - 4)}" '
                f'text-anchor="end" fill="{color}">{label}</text>'
            )
            continue
        x = frame.x(marker.at)
        out.append(
            f'<line class="marker" x1="{_f(x)}" x2="{_f(x)}" y1="{_f(frame.y0)}" '
            f'y2="{_f(frame.y1)}" stroke="{color}"><title>{label}</title></line>'
        )
        # Stagger labels downwards so neighbouring markers stay legible; flip to the left of
        # the line near the right edge.
        y = frame.y0 + 26 + 13 * index
        anchor, dx = ("end", -4.0) if x > frame.x1 - 160 else ("start", 4.0)
        out.append(
            f'<text class="marker-label" x="{_f(x + dx)}" y="{_f(y)}" '
            f'text-anchor="{anchor}" fill="{color}">{label}</text>'
        )
    out.append("</g>")
    return out


def _legend(chart: Chart, frame: _Frame) -> list[str]:
    out = ['<g class="legend">']
    x, y = frame.x0, chart.height - 14.0
    entries = [(s.label, s.color, s.dashed, s.line) for s in chart.series]
    if chart.bands:
        entries.append(("fault window", "", False, False))
    for label, color, dashed, line in entries:
        if not color:
            out.append(
                f'<rect class="band fault" x="{_f(x)}" y="{_f(y - 8)}" width="18" height="10"/>'
            )
        elif line:
            dash = ' stroke-dasharray="6 4"' if dashed else ""
            out.append(
                f'<line class="legend-line" x1="{_f(x)}" x2="{_f(x + 18)}" '
                f'y1="{_f(y - 3)}" y2="{_f(y - 3)}" stroke="{escape(color)}"{dash}/>'
            )
        else:
            out.append(
                f'<circle cx="{_f(x + 9)}" cy="{_f(y - 3)}" r="3.5" fill="{escape(color)}"/>'
            )
        out.append(
            f'<text class="legend-label" x="{_f(x + 23)}" y="{_f(y)}">{escape(label)}</text>'
        )
        x += 23 + CHAR_W * len(label) + 18
    out.append("</g>")
    return out


def render_chart(chart: Chart) -> str:
    """One self-contained `<svg class="plot" id=...>` element."""
    frame, x_ticks, y_ticks = _frame(chart)
    plot_id = escape(chart.plot_id)
    parts = [
        f'<svg class="plot" id="{plot_id}" viewBox="0 0 {chart.width} {chart.height}" '
        f'width="{chart.width}" height="{chart.height}" role="img" '
        f'aria-labelledby="{plot_id}-title">',
        f'<title id="{plot_id}-title">{escape(chart.title)}</title>',
        f'<text class="plot-title" x="{_f(frame.x0)}" y="22">{escape(chart.title)}</text>',
        *_bands(chart, frame),
        *_axes(chart, frame, x_ticks, y_ticks),
        *_series(chart, frame),
        *_markers(chart, frame),
        *_legend(chart, frame),
    ]
    if not any(True for s in chart.series for _ in _runs(chart, s.points)):
        parts.append(
            f'<text class="empty" x="{_f((frame.x0 + frame.x1) / 2)}" '
            f'y="{_f((frame.y0 + frame.y1) / 2)}" text-anchor="middle">'
            "no samples</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)
