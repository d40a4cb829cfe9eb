"""`gracectl capacity` on bad input (exit 2, one line and a hint, no traceback), and the http
component without a target (inconclusive, exit 3): the real CLI, no stack needed."""

from __future__ import annotations

import json

import pytest

from gracectl.capacity.model import CapacityJournal
from tests.conftest import Sandbox
from tests.unit.test_cli_errors import assert_clean_usage_error

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--slo", "p99=50"], "needs a unit"),
        (["--slo", "latency=5ms"], "unknown key"),
        (["--component", "mysql"], "'mysql': unknown"),
        (["--max-steps", "0"], "--max-steps 0"),
        (["--step-seconds", "0.5"], "--step-seconds 0.5"),
        (["--start-rate", "-3"], "--start-rate -3"),
        (["-c", "http", "--target", "ftp://127.0.0.1/"], "not an http(s) URL"),
        (["-c", "http", "--target", "http://192.0.2.10:8080/"], "not a loopback address"),
    ],
)
def test_bad_flags_exit_2_with_a_hint(sandbox: Sandbox, args: list[str], needle: str) -> None:
    assert_clean_usage_error(sandbox.run("capacity", *args), needle)


def test_help_documents_the_rules_and_exit_codes(sandbox: Sandbox) -> None:
    result = sandbox.run("capacity", "--help")
    assert result.code == 0
    text = " ".join(result.stdout.split())
    assert "generator saturated" in text and "Exit codes" in text


def test_http_without_a_target_is_inconclusive(sandbox: Sandbox) -> None:
    result = sandbox.run("capacity", "-c", "http", "--json")
    assert result.code == 3, result
    journal = CapacityJournal.model_validate(json.loads(result.stdout))
    (http,) = journal.results
    assert http.component == "http" and http.status == "inconclusive"
    assert "no --target" in http.reason and not http.steps
    assert journal.machine.cores >= 1
    written = list((sandbox.home / "runs").glob("capacity-*/journal.json"))
    assert len(written) == 1
    assert CapacityJournal.read(written[0]).results == journal.results


def test_components_needing_the_stack_say_so(sandbox: Sandbox) -> None:
    result = sandbox.run("capacity", "-c", "redis", "--no-native")
    assert result.code == 3, result
    assert "no gracectl stack" in result.stderr and "hint: run `gracectl up`" in result.stderr
