"""The HTML report in a real browser: headless Chromium (Debian's package, installed by
scripts/setup.sh; a missing browser fails the test, it does not skip) loads a report of a
chaos, a capacity and a verify journal, and must show every plot without a console error.
The same detector is shown catching a script error and an empty plot."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gracectl.report.html import render_html
from gracectl.report.load import load_journals
from tests.chromium import distinct_colours, open_page, png_size
from tests.conftest import Sandbox
from tests.report_journals import write_journals

pytestmark = pytest.mark.integration

PLOT_IDS = (
    "plot-1-throughput",
    "plot-1-latency",
    "plot-2-postgres-write-latency",
    "plot-2-postgres-write-achieved",
)
# Evaluated in the page after load: the marker set by the report's script, and each plot's
# box in page coordinates with what was drawn in it.
PAGE_FACTS = """({
  rendered: document.body.dataset.rendered,
  plotsDrawn: Number(document.body.dataset.plotsDrawn),
  plots: Array.from(document.querySelectorAll("svg.plot")).map(function (svg) {
    var box = svg.getBoundingClientRect();
    return {id: svg.id, x: box.left + window.scrollX, y: box.top + window.scrollY,
            width: box.width, height: box.height,
            lines: svg.querySelectorAll("path.line").length,
            bands: svg.querySelectorAll("g.bands rect.band").length,
            markers: svg.querySelectorAll("line.marker").length};
  })
})"""


def test_chromium_is_installed() -> None:
    assert shutil.which("chromium"), "chromium missing: run scripts/setup.sh"


def _report(sandbox: Sandbox) -> Path:
    paths = write_journals(sandbox.cwd)
    out = sandbox.cwd / "report.html"
    result = sandbox.run(
        "report", *(str(p) for p in paths.values()), "--format", "html", "--out", str(out)
    )
    assert result.code == 1, result  # the verify journal has a failing claim
    return out


def test_html_report_renders_its_plots_without_console_errors(sandbox: Sandbox) -> None:
    report = _report(sandbox)
    with open_page(report) as page:
        facts = page.evaluate(PAGE_FACTS)
        errors = page.console_errors()
        plots = {p["id"]: p for p in facts["plots"]}
        clips = {
            plot_id: page.screenshot({k: plots[plot_id][k] for k in ("x", "y", "width", "height")})
            for plot_id in PLOT_IDS
        }
        full = page.screenshot()
    assert errors == []
    assert facts["rendered"] == "1"
    assert facts["plotsDrawn"] == len(PLOT_IDS)
    assert sorted(plots) == sorted(PLOT_IDS)
    for plot_id in PLOT_IDS:
        assert plots[plot_id]["width"] > 400 and plots[plot_id]["height"] > 200, plots[plot_id]
        assert plots[plot_id]["lines"] >= 2, plots[plot_id]
    assert plots["plot-1-throughput"]["bands"] == 1  # the fault window, shaded
    assert plots["plot-1-throughput"]["markers"] == 1  # writes resume (RTO)
    assert plots["plot-2-postgres-write-latency"]["markers"] >= 3  # knee, max, SLO
    # Pixels, not just DOM: every plot's area holds lines, text and shading in colour.
    for plot_id, png in clips.items():
        assert distinct_colours(png) >= 12, plot_id
    width, height = png_size(full)
    assert width >= 1000 and height > 2000


def test_the_detector_catches_a_script_error_and_an_empty_plot(tmp_path: Path) -> None:
    journals = load_journals(write_journals(tmp_path).values())
    html = render_html(journals, datetime.now(UTC))
    broken = tmp_path / "broken.html"
    script = '<script>console.error("boom"); undefined_fn();</script>'
    broken.write_text(html.replace("</body>", f"{script}\n</body>"))
    with open_page(broken) as page:
        errors = page.console_errors()
    assert any("undefined_fn is not defined" in e for e in errors), errors
    assert "console.error: boom" in errors

    no_lines = tmp_path / "empty.html"
    first_plot = html[html.index('<svg class="plot"') : html.index("</svg>")]
    no_lines.write_text(html.replace(first_plot, first_plot.replace('class="line"', 'class="x"')))
    with open_page(no_lines) as page:
        facts = page.evaluate(PAGE_FACTS)
        assert page.console_errors() == []
        # The pixel check tells blank from drawn: the empty page beside a plot is one colour.
        plot = facts["plots"][1]
        beside = {
            "x": plot["x"] + plot["width"] + 40,
            "y": plot["y"],
            "width": 100,
            "height": plot["height"],
        }
        assert distinct_colours(page.screenshot(beside)) == 1
    assert facts["rendered"] == "0" and facts["plotsDrawn"] == len(PLOT_IDS) - 1
