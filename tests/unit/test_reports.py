"""Reports rendered from journals alone: the per-second series, loading any journal kind,
verdict rows and exit codes, and each format (JSON, Markdown, JUnit, HTML) on synthetic
journals that pass, fail and are inconclusive."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gracectl.capacity.model import CapacityJournal
from gracectl.checks.timeseries import per_second_series
from gracectl.errors import ConfigError
from gracectl.history import EventOp, Operation, Outcome
from gracectl.journal import Journal
from gracectl.report import check_rows, combined_exit_code, journal_exit_code, read_any_journal
from gracectl.report.checks import counts
from gracectl.report.html import render_html
from gracectl.report.json_report import REPORT_VERSION, report_document
from gracectl.report.junit import render_junit
from gracectl.report.load import LoadedJournal
from gracectl.report.markdown import append_step_summary, cell, render_markdown
from gracectl.report.svg import log_ticks, nice_step, nice_ticks
from gracectl.verify.model import VerifyJournal
from tests.conftest import Sandbox
from tests.report_journals import (
    KILL_AT,
    NASTY,
    RESUME_AT,
    T0,
    capacity_journal,
    chaos_journal,
    verify_journal,
    write_journals,
)

pytestmark = pytest.mark.unit

GENERATED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def loaded(*journals: Journal | CapacityJournal | VerifyJournal) -> list[LoadedJournal]:
    return [LoadedJournal(f"/runs/{i}/journal.json", j) for i, j in enumerate(journals)]


def op(intended: float, end: float, outcome: Outcome = "ok", kind: str = "write") -> Operation:
    return Operation(
        worker="w", op=kind, value=1, intended=intended, start=intended, end=end, outcome=outcome
    )


# --- the per-second series -------------------------------------------------------------


def test_series_counts_by_completion_and_latency_by_planned_second() -> None:
    series = per_second_series(
        [
            op(100.2, 100.3),  # planned and done in second 0
            op(100.9, 102.4, "info"),  # planned in 0, done in 2: latency 1.5 s counts in second 0
            op(101.5, 101.6, "fail"),  # fail: counted in 1, no latency
            op(103.1, 103.2),
        ]
    )
    assert [s.op for s in series] == ["write"]
    buckets = series[0].buckets
    assert series[0].origin == 100.0
    assert [b.t_s for b in buckets] == [0.0, 1.0, 2.0, 3.0]
    assert [(b.ok, b.failed, b.info) for b in buckets] == [
        (1, 0, 0),
        (0, 1, 0),
        (0, 0, 1),
        (1, 0, 0),
    ]
    assert buckets[0].latency_count == 2
    assert buckets[0].p50_s == pytest.approx(0.1)
    assert buckets[0].p99_s == pytest.approx(1.5)  # nearest rank: a latency some op really had
    assert buckets[1].latency_count == 0 and buckets[1].p99_s is None  # the fail is left out
    assert buckets[2].p99_s is None  # nothing planned in second 2


def test_series_keep_empty_seconds_so_an_outage_is_a_gap() -> None:
    ops = [op(10.0 + i * 0.1, 10.0 + i * 0.1 + 0.01) for i in range(10)]
    ops += [op(15.0 + i * 0.1, 15.0 + i * 0.1 + 0.01) for i in range(10)]
    buckets = per_second_series(ops)[0].buckets
    assert [b.ok for b in buckets] == [10, 0, 0, 0, 0, 10]


def test_series_of_several_kinds_share_origin_and_range() -> None:
    series = per_second_series([op(50.5, 50.6, kind="write"), op(53.2, 53.3, kind="read")])
    assert [s.op for s in series] == ["read", "write"]
    assert {s.origin for s in series} == {50.0}
    assert [len(s.buckets) for s in series] == [4, 4]
    assert [b.ok for b in series[0].buckets] == [0, 0, 0, 1]


def test_series_of_event_produces_and_of_nothing() -> None:
    produce = EventOp(
        worker="producer-0",
        op="produce",
        key="k",
        seq=0,
        partition="t/0",
        intended=7.0,
        start=7.0,
        end=7.25,
        outcome="ok",
    )
    series = per_second_series([produce])
    assert series[0].op == "produce" and series[0].buckets[0].p99_s == pytest.approx(0.25)
    assert per_second_series([]) == []


def test_series_of_a_real_outage_show_the_rto_gap() -> None:
    journal = chaos_journal()
    writes = next(s for s in journal.timeseries if s.op == "write")
    ok_seconds = [b.t_s for b in writes.buckets if b.ok]
    assert writes.origin == T0
    gap = [t for t in range(int(KILL_AT), int(RESUME_AT)) if float(t) in ok_seconds]
    assert gap == [] and float(RESUME_AT) in ok_seconds and 0.0 in ok_seconds
    # The journal keeps them: they survive its JSON round trip.
    again = Journal.model_validate_json(journal.model_dump_json())
    assert again.timeseries == journal.timeseries


# --- loading ---------------------------------------------------------------------------


def test_read_any_journal_dispatches_on_kind(tmp_path: Path) -> None:
    paths = write_journals(tmp_path)
    assert isinstance(read_any_journal(paths["chaos"]), Journal)
    assert isinstance(read_any_journal(paths["capacity"]), CapacityJournal)
    assert isinstance(read_any_journal(paths["verify"]), VerifyJournal)


def test_a_chaos_journal_without_kind_or_series_still_loads(tmp_path: Path) -> None:
    document = json.loads(chaos_journal().model_dump_json())
    for key in ("kind", "machine", "timeseries"):
        del document[key]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "journal.json").write_text(json.dumps(document))
    journal = read_any_journal(tmp_path / "run")  # a run directory stands for its journal
    assert isinstance(journal, Journal) and journal.kind == "chaos"
    assert journal.timeseries == [] and journal.machine is None
    html = render_html(loaded(journal), GENERATED)
    assert "No time series in this journal" in html
    assert "machine not recorded" in html


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "cannot read journal"),
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"kind": "benchmark"}', "unknown journal kind 'benchmark'"),
        ('{"kind": "capacity", "version": 99}', "newer than this gracectl reads"),
        ('{"kind": "verify", "start": 1}', "not a valid verify journal (profile: Field required)"),
        ('{"scenario": {}}', "not a valid chaos journal"),
    ],
)
def test_unreadable_or_unknown_journals_are_usage_errors(
    tmp_path: Path, content: str | None, needle: str
) -> None:
    path = tmp_path / "journal.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        read_any_journal(path)
    assert caught.value.exit_code == 2
    assert needle in caught.value.message
    assert caught.value.hint


# --- verdict rows and exit codes -------------------------------------------------------


def test_exit_codes_per_journal_kind() -> None:
    assert journal_exit_code(chaos_journal("pass")) == 0
    assert journal_exit_code(chaos_journal("fail")) == 1
    assert journal_exit_code(chaos_journal("inconclusive")) == 3
    assert journal_exit_code(chaos_journal("pass", status="aborted")) == 3
    assert journal_exit_code(chaos_journal("pass", status="failed")) == 1
    assert journal_exit_code(capacity_journal("measured")) == 0
    assert journal_exit_code(capacity_journal("inconclusive")) == 3
    empty = capacity_journal().model_copy(update={"results": []})
    assert journal_exit_code(empty) == 3  # nothing measured is never a pass
    assert journal_exit_code(verify_journal("pass")) == 0
    assert journal_exit_code(verify_journal("pass", "inconclusive")) == 3
    assert journal_exit_code(verify_journal("inconclusive", "fail")) == 1


def test_combined_exit_code_fail_beats_inconclusive_beats_pass() -> None:
    assert combined_exit_code([0, 0]) == 0
    assert combined_exit_code([0, 3]) == 3
    assert combined_exit_code([3, 1, 0]) == 1


def test_rows_agree_with_the_exit_code() -> None:
    for journal in (
        chaos_journal("pass"),
        chaos_journal("fail"),
        chaos_journal("inconclusive"),
        chaos_journal("pass", status="aborted"),
        capacity_journal("inconclusive"),
        verify_journal("pass", "fail"),
    ):
        rows = check_rows(LoadedJournal("j.json", journal))
        tally = counts(rows)
        expected = 1 if tally["fail"] else 3 if tally["inconclusive"] else 0
        assert journal_exit_code(journal) == expected, journal


def test_aborted_chaos_run_gets_an_inconclusive_run_row() -> None:
    rows = check_rows(LoadedJournal("j.json", chaos_journal("pass", status="interrupted")))
    assert rows[-1].name == "run" and rows[-1].verdict == "inconclusive"


# --- JSON ------------------------------------------------------------------------------


def test_json_report_is_versioned_and_holds_the_journals() -> None:
    journals = loaded(chaos_journal("fail"), capacity_journal(), verify_journal("pass"))
    document = json.loads(json.dumps(report_document(journals, GENERATED)))
    assert document["report_version"] == REPORT_VERSION == 1
    assert document["generated"] == "2026-11-27T12:00:00+00:00"
    assert document["exit_code"] == 1
    assert document["summary"] == {"pass": 4, "fail": 1, "inconclusive": 0}
    assert [j["kind"] for j in document["journals"]] == ["chaos", "capacity", "verify"]
    assert [j["exit_code"] for j in document["journals"]] == [1, 0, 0]
    again = Journal.model_validate(document["journals"][0]["journal"])
    assert again == journals[0].journal
    failed = [c for c in document["journals"][0]["checks"] if c["verdict"] == "fail"]
    assert failed[0]["name"] == "lost_acked_writes"
    assert "lost acknowledged ids (first 20): 101, 102, 103" in failed[0]["details"]


# --- Markdown --------------------------------------------------------------------------


def test_markdown_tables_of_every_kind() -> None:
    text = render_markdown(
        loaded(
            chaos_journal("fail"), capacity_journal("inconclusive"), verify_journal("pass", "fail")
        ),
        GENERATED,
    )
    assert "Exit code **1**" in text
    assert "| claim | claimed | measured | verdict | evidence |" in text
    assert "| ↳ postgres-reads: projection (extrapolated, not measured) |" in text
    assert "3,570 reads/s (per-replica 1,190 x 3 replicas)" in text
    assert "| invariant | value | threshold | status | reason |" in text
    assert "| lost_acked_writes | 3 | &lt;= 0 | **FAIL** |" in text  # GitHub shows <=
    assert "| postgres-write | inconclusive | 1,190 writes/s | 1,200 writes/s |" in text
    assert "| 2,000 | 1,450 | 225 ms | 900 ms |" in text
    assert "no, generator saturated" in text
    assert "Machine: 2 cores, 23.4 GiB, Test CPU @ 2.0GHz" in text
    # A journal's text stays text: no raw markup, no pipe that would split a row.
    assert "<script>" not in text
    for line in text.splitlines():
        if line.startswith("| claim-1"):
            assert len(re.findall(r"(?<!\\)\|", line)) == 6, line


def test_markdown_cell_escapes() -> None:
    assert cell("a | b\nc <b>") == "a \\| b c &lt;b&gt;"
    assert cell("") == " "


def test_markdown_is_appended_to_the_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    append_step_summary("# gracectl report\n", summary)
    append_step_summary("# second\n", summary)
    assert summary.read_text() == "earlier step\n\n# gracectl report\n\n# second\n"


# --- JUnit -----------------------------------------------------------------------------


def _suites(xml: str) -> list[ET.Element]:
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    return root.findall("testsuite")


def test_junit_one_testcase_per_check_with_failures_and_skips() -> None:
    journals = loaded(
        chaos_journal("fail"),
        capacity_journal("inconclusive"),
        verify_journal("pass", "fail", "inconclusive"),
    )
    xml = render_junit(journals, GENERATED)
    root = ET.fromstring(xml)
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("7", "2", "2")
    chaos, capacity, verify = _suites(xml)
    assert [c.get("name") for c in chaos.findall("testcase")] == ["lost_acked_writes", "rto_s"]
    assert (chaos.get("failures"), chaos.get("skipped")) == ("1", "0")
    assert (capacity.get("tests"), capacity.get("skipped")) == ("1", "1")
    assert [c.get("name") for c in verify.findall("testcase")] == [
        "claim-0",
        "claim-1",
        "claim-2",
        "postgres-reads",
    ]
    assert len(verify.findall("testcase/failure")) == 1
    assert len(verify.findall("testcase/skipped")) == 1
    failure = chaos.find("testcase/failure")
    assert failure is not None and failure.text is not None
    assert "evidence: /runs/0/journal.json" in failure.text
    assert "lost acknowledged ids (first 20): 101, 102, 103" in failure.text
    assert NASTY in (failure.get("message") or "")  # escaped in XML, intact once parsed
    claim_failure = verify.find("testcase[@name='claim-1']/failure")
    assert claim_failure is not None and claim_failure.text is not None
    assert "measured: 1,190 writes/s" in claim_failure.text
    assert "expected: 10,000 writes/s" in claim_failure.text
    assert "evidence: /tmp/runs/capacity/journal.json" in claim_failure.text
    skipped = capacity.find("testcase/skipped")
    assert skipped is not None and "generator saturated" in (skipped.get("message") or "")
    properties = {p.get("name"): p.get("value") for p in verify.iter("property")}
    assert properties["machine"] is not None and properties["machine"].startswith("2 cores")


def test_junit_drops_characters_xml_cannot_hold() -> None:
    journal = verify_journal("pass")
    bad = journal.results[0].model_copy(update={"verdict": "fail", "reason": "ansi \x1b[31m"})
    journal = journal.model_copy(update={"results": [bad]})
    failure = _suites(render_junit(loaded(journal), GENERATED))[0].find("testcase/failure")
    assert failure is not None and "\x1b" not in (failure.get("message") or "")


# --- HTML ------------------------------------------------------------------------------


def test_html_is_self_contained_escaped_and_has_the_plots() -> None:
    html = render_html(
        loaded(
            chaos_journal("fail"), capacity_journal("inconclusive"), verify_journal("pass", "fail")
        ),
        GENERATED,
    )
    for external in ("src=", "<link", "@import", "url(", "http://", "https://"):
        assert external not in html, external
    assert html.count("<script>") == 1  # ours; the journal's is escaped
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    for plot_id in (
        "plot-1-throughput",
        "plot-1-latency",
        "plot-2-postgres-write-latency",
        "plot-2-postgres-write-achieved",
    ):
        assert f'<svg class="plot" id="{plot_id}"' in html
    assert 'class="band fault"' in html and "postgres.kill_leader pg-1" in html
    assert "writes resume: RTO 21.0 s" in html
    assert "knee 1,200 /s" in html and "max sustainable 1,190 /s" in html
    assert "generator saturated 2,000 /s" in html
    assert "projection (extrapolated, not measured)" in html
    assert "Machine: 2 cores, 23.4 GiB, Test CPU @ 2.0GHz" in html
    assert html.index("<h2>Verdicts</h2>") < html.index('id="journal-1"')


def test_fault_window_is_shaded_where_it_happened() -> None:
    html = render_html(loaded(chaos_journal()), GENERATED)
    svg = html[html.index('id="plot-1-throughput"') :]
    svg = svg[: svg.index("</svg>")]
    band = re.search(r'<rect class="band fault" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)
    assert band is not None
    # Where 8 s after the load started (the kill) and 45 s (healed) fall on the x axis,
    # from the positions of its tick labels.
    ticks = {
        float(label): float(x)
        for x, label in re.findall(
            r'class="tick" x="([\d.]+)" y="[\d.]+" '
            r'text-anchor="middle">(\d+)</text>',
            svg,
        )
    }
    per_second = (ticks[20.0] - ticks[10.0]) / 10
    left, width = float(band.group(1)), float(band.group(2))
    assert left == pytest.approx(ticks[10.0] - 2 * per_second, abs=0.5)
    assert left + width == pytest.approx(ticks[10.0] + 35 * per_second, abs=0.5)
    # Its tooltip says what and when.
    assert re.search(r"<title>postgres.kill_leader on pg-1: 8.0 s to 45.0 s</title>", svg)


def test_capacity_without_steps_and_verify_without_claims_say_so() -> None:
    empty_capacity = capacity_journal().model_copy(update={"results": []})
    empty_verify = verify_journal().model_copy(update={"results": []})
    html = render_html(loaded(empty_capacity, empty_verify), GENERATED)
    assert "The journal holds no component." in html
    assert "the journal holds no claim result" in html
    assert journal_exit_code(empty_verify) == 3


def test_ticks() -> None:
    assert nice_step(0.7) == 1.0 and nice_step(1.2) == 2.0 and nice_step(3.0) == 5.0
    assert nice_step(7.0) == 10.0
    assert nice_ticks(0, 97) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(0.5, 45.5, 8) == [0, 10, 20, 30, 40, 50]
    assert nice_ticks(0.5, 45.5, 12) == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
    assert nice_ticks(3, 3)[0] <= 3 <= nice_ticks(3, 3)[-1]
    assert log_ticks(1.9, 2100) == [1, 10, 100, 1000, 10000]
    assert log_ticks(5, 5) == [1, 10]
    assert all(math.isfinite(t) for t in nice_ticks(-3.5, 1e9))


# --- the command -----------------------------------------------------------------------


def test_report_command_formats_and_exit_codes(sandbox: Sandbox) -> None:
    paths = write_journals(sandbox.cwd)  # chaos passes, capacity measured, verify fails
    chaos, capacity, verify = (str(paths[k]) for k in ("chaos", "capacity", "verify"))
    out = sandbox.cwd / "reports" / "junit.xml"
    result = sandbox.run("report", chaos, capacity, verify, "--format", "junit", "--out", str(out))
    assert result.code == 1, result
    assert result.stdout == "" and len(_suites(out.read_text())) == 3

    summary = sandbox.cwd / "step-summary.md"
    result = sandbox.run(
        "report", chaos, capacity, "--format", "md", GITHUB_STEP_SUMMARY=str(summary)
    )
    assert result.code == 0, result
    assert result.stdout.startswith("# gracectl report")
    assert summary.read_text() == result.stdout  # appended besides stdout

    result = sandbox.run("report", chaos, "--format", "json")
    assert result.code == 0 and json.loads(result.stdout)["report_version"] == 1

    # The terminal tables, and the result object `--json` always printed for a chaos run.
    result = sandbox.run("report", chaos, verify)
    assert result.code == 1 and "kill-primary" in result.stdout and "claim-1" in result.stdout
    result = sandbox.run("report", chaos, "--json")
    assert result.code == 0 and json.loads(result.stdout)["verdict"] == "pass"


def test_report_command_bad_input_is_exit_2(sandbox: Sandbox) -> None:
    unknown = sandbox.cwd / "other.json"
    unknown.write_text('{"kind": "benchmark"}')
    for args in (
        (str(unknown),),
        (str(sandbox.cwd / "missing.json"), "--format", "md"),
        (str(unknown), "--format", "json", "--json"),
        (str(unknown), "--out", "x.html"),
    ):
        result = sandbox.run("report", *args)
        assert result.code == 2, (args, result)
        assert "Traceback" not in result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines[0].startswith("error: ") and lines[-1].startswith("hint: "), result.stderr
