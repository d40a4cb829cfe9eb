"""Scenario files: the bundled ones are valid; bad ones give exit 2 with file, field, reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gracectl.errors import ConfigError
from gracectl.scenario import bundled_dir, json_schema, list_bundled, load_scenario
from tests.conftest import Sandbox

pytestmark = pytest.mark.unit

GOOD = """
name: ok
load: {writers: 1, readers: 0, write_rate: 10, read_rate: 0, duration_s: 20}
faults:
  - {fault: node.pause, target: "postgres:leader", at_s: 2, duration_s: 1}
invariants:
  - {name: lost_acked_writes, max: 0}
"""


def test_bundled_scenarios_are_valid() -> None:
    found = list_bundled()
    assert {p.name for p, _ in found} >= {"kill-primary.yaml", "kill-postmaster.yaml",
                                          "async-replication-loss.yaml", "pause-leader.yaml"}
    for path, scenario in found:
        assert not isinstance(scenario, str), (path, scenario)


def test_schema_names_the_fault_registry() -> None:
    text = json.dumps(json_schema())
    assert "postgres.kill_leader" in text
    assert "node.pause" in text


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (GOOD.replace("node.pause", "node.explode"), "faults.0.fault"),
        (GOOD.replace("at_s: 2", "at_s: -1"), "faults.0.at_s"),
        (GOOD.replace("name: ok\n", ""), "name: Field required"),
        (GOOD.replace('target: "postgres:leader", ', ""), "needs a target"),
        (GOOD.replace(", duration_s: 1}", "}"), "needs duration_s"),
        (GOOD.replace("lost_acked_writes", "lost_writez"), "unknown metric 'lost_writez'"),
        (GOOD.replace("duration_s: 20", "duration_s: 5"), "run past load.duration_s"),
        (GOOD + "surprise: 1\n", "surprise"),
        ("name: [unclosed\n", "malformed YAML at line"),
        ("- just a list\n", "must be a mapping"),
    ],
)
def test_bad_scenarios_name_file_field_and_reason(tmp_path: Path, body: str, needle: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert str(path) in info.value.message
    assert needle in info.value.message
    assert info.value.exit_code == 2


def test_good_scenario_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(GOOD)
    scenario = load_scenario(path)
    assert scenario.faults[0].target == "postgres:leader"


def test_cli_validate_exit_codes(sandbox: Sandbox, tmp_path: Path) -> None:
    good = sandbox.run("scenario", "validate", str(bundled_dir() / "kill-primary.yaml"))
    assert good.code == 0, good
    bad = sandbox.cwd / "bad.yaml"
    bad.write_text(GOOD.replace("node.pause", "node.explode"))
    result = sandbox.run("scenario", "validate", str(bad))
    assert result.code == 2
    assert "Traceback" not in result.stderr
    assert "faults.0.fault" in result.stderr
    missing = sandbox.run("chaos", "run", str(sandbox.cwd / "nope.yaml"))
    assert missing.code == 2
    assert "cannot read scenario" in missing.stderr
    listed = sandbox.run("scenario", "list")
    assert "kill-primary" in listed.stdout
