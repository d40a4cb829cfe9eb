"""`gracectl verify` without servers: the claims file and its errors, the judging rules
(saturated generator, projections, availability, untestable), and the exit codes, with fake
capacity and scenario runners injected."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gracectl.capacity.model import (
    CapacityComponent,
    CapacityJournal,
    ComponentCapacity,
    NativeCeiling,
    Slo,
    StepResult,
)
from gracectl.config import Settings
from gracectl.errors import ConfigError
from gracectl.journal import FindingRecord, Journal
from gracectl.machine import this_machine
from gracectl.scenario import Scenario, bundled_dir, load_scenario
from gracectl.verify.claims import (
    CapacityTest,
    Claim,
    ScenarioTest,
    default_claims_file,
    load_claims,
    parse_claims,
)
from gracectl.verify.judge import (
    CapacityEvidence,
    ScenarioEvidence,
    Units,
    downtime_budget_s,
    judge_capacity,
    judge_claim,
)
from gracectl.verify.model import ClaimResult, VerifyJournal
from gracectl.verify.runner import quick_scenario, run_verify
from tests.conftest import Sandbox
from tests.unit.test_cli_errors import assert_clean_usage_error

pytestmark = pytest.mark.unit


# -- the claims file -----------------------------------------------------------------------
def test_grace_claims_file_covers_the_document() -> None:
    claims = load_claims(default_claims_file())
    words = {c.claim for c in claims.claims}
    for expected in (
        "Writes: 10K/sec (primary)",
        "Reads: 30K/sec (3 replicas)",
        "Throughput: 100K ops/sec",
        "Hit rate: 95%+",
        "Throughput: 1M events/sec",
        "50K requests/second",
        "99.9% availability",
        "Availability: 99.95%",
        "Availability: 99.99%",
        "Zero single points of failure",
        "NO data loss on restart",
        "Automatic failover",
        "Guaranteed delivery",
        "Event replay from any timestamp",
    ):
        assert expected in words, expected
    assert [c.number for c in claims.claims] == list(range(1, len(claims.claims) + 1))
    by_id = {c.id: c for c in claims.claims}
    spof = by_id["zero-spof"].test
    assert isinstance(spof, ScenarioTest)
    assert {r.scenario for r in spof.scenarios} == {
        "kill-primary.yaml", "kill-redis-master.yaml", "kafka-kill-broker.yaml",
        "kill-haproxy.yaml",
    }  # fmt: skip
    reads = by_id["postgres-reads"].test
    assert isinstance(reads, CapacityTest) and reads.projection is not None
    # Each capacity component and each scenario file once, however many claims share it.
    assert len(claims.capacity_components()) == len(set(claims.capacity_components()))
    assert len(claims.scenario_files()) == len(set(claims.scenario_files()))
    assert bundled_dir() / "kill-haproxy.yaml" in claims.scenario_files()


def test_kill_haproxy_targets_the_proxy_node() -> None:
    scenario = load_scenario(bundled_dir() / "kill-haproxy.yaml")
    assert scenario.faults[0].fault == "node.kill" and scenario.faults[0].target == "haproxy"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text(text)
    return path


GOOD_CLAIM = """document: test
claims:
  - id: writes
    number: 1
    claim: "Writes: 10K/sec (primary)"
    claimed: 10000
    unit: writes/s
    test: {capacity: postgres-write}
"""


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("claims: [\n", ["malformed YAML"]),
        ("- a list\n", ["must be a mapping"]),
        (GOOD_CLAIM.replace("{capacity: postgres-write}", "{load: 5}"),
         ["claims[0] (writes).test", "a test is one of"]),
        (GOOD_CLAIM.replace("postgres-write", "mysql"), ["claims[0] (writes).test.capacity"]),
        (GOOD_CLAIM.replace("claimed: 10000", "claimed: lots"), ["needs a number"]),
        (GOOD_CLAIM.replace("    unit: writes/s\n", "    unit: writes/s\n    colour: red\n"),
         ["colour", "Extra inputs"]),
        (GOOD_CLAIM + GOOD_CLAIM.split("claims:\n")[1], ["two claims have the id 'writes'"]),
        (GOOD_CLAIM.replace("{capacity: postgres-write}",
                            "{availability: [{scenario: kill-primary.yaml, metric: rto_s}]}"),
         ["availability claim is a percentage"]),
    ],
)  # fmt: skip
def test_bad_claims_files_name_the_file_and_field(
    tmp_path: Path, text: str, needles: list[str]
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_claims(path)
    assert str(path) in caught.value.message
    assert caught.value.hint
    assert caught.value.exit_code == 2
    for needle in needles:
        assert needle in caught.value.message


def test_claim_on_a_metric_the_scenario_does_not_judge(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_CLAIM.replace(
        "{capacity: postgres-write}", "{scenario: kill-primary.yaml, metrics: [recovery_s]}"
    ).replace("claimed: 10000", "claimed: recovers"))  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_claims(path)
    assert "kill-primary.yaml judges no 'recovery_s'" in caught.value.message
    assert "rto_s" in caught.value.hint


def test_claim_on_a_missing_scenario_file(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_CLAIM.replace(
        "{capacity: postgres-write}", "{scenario: nowhere.yaml, metrics: [rto_s]}"
    ).replace("claimed: 10000", "claimed: recovers"))  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_claims(path)
    assert "claim writes" in caught.value.message and "nowhere.yaml" in caught.value.message


def test_unknown_only_id() -> None:
    with pytest.raises(ConfigError) as caught:
        load_claims(default_claims_file()).select(["postgres-writes", "warp-drive"])
    assert "'warp-drive'" in caught.value.message and "postgres-writes" in caught.value.hint


def test_cli_bad_claims_file_exits_2_before_needing_a_stack(sandbox: Sandbox) -> None:
    bad = sandbox.cwd / "claims.yaml"
    bad.write_text(GOOD_CLAIM.replace("postgres-write", "mysql"))
    assert_clean_usage_error(sandbox.run("verify", "--claims", str(bad)), str(bad), "capacity")
    assert_clean_usage_error(sandbox.run("verify", "--only", "warp-drive"), "warp-drive")
    assert_clean_usage_error(sandbox.run("verify", "--slo", "p99=fast"), "--slo")
    missing = sandbox.run("verify", "--only", "postgres-writes")
    assert missing.code == 3, missing  # a good file, but no stack: could not run
    assert "no gracectl stack" in missing.stderr and "Traceback" not in missing.stderr


# -- judging capacity ----------------------------------------------------------------------
def _claim(text: str) -> Claim:
    return parse_claims({"document": "t", "claims": [json.loads(text)]}, "test").claims[0]


WRITES = _claim('{"id": "w", "number": 1, "claim": "Writes: 10K/sec (primary)", '
                '"claimed": 10000, "unit": "writes/s", "test": {"capacity": "postgres-write"}}')
READS = _claim('{"id": "r", "number": 1, "claim": "Reads: 30K/sec (3 replicas)", '
               '"claimed": 30000, "unit": "reads/s", "test": {"capacity": "postgres-read", '
               '"projection": {"per": "replica", "count": 3}}}')  # fmt: skip


def _step(offered: float, achieved: float, *, sustained: bool, saturated: bool = False,
          p99_ms: float = 5.0) -> StepResult:  # fmt: skip
    return StepResult(
        offered_rate=offered, achieved_rate=achieved, sent=int(offered * 10),
        ok=int(achieved * 10), errors=0, late=0, p99_ms=p99_ms, sustained=sustained,
        generator_saturated=saturated, generator_cpu=1.0 if saturated else 0.4,
    )  # fmt: skip


def _capacity(component: CapacityComponent, steps: list[StepResult], *,
              status: str = "measured", reason: str = "") -> ComponentCapacity:  # fmt: skip
    sustained = [s.achieved_rate for s in steps if s.sustained]
    return ComponentCapacity.model_validate({
        "component": component, "target": "127.0.0.1:1", "unit": "ops/s", "status": status,
        "reason": reason, "max_sustainable_rate": max(sustained) if sustained else None,
        "steps": [s.model_dump() for s in steps],
    })  # fmt: skip


def _judge_writes(result: ComponentCapacity) -> ClaimResult:
    assert isinstance(WRITES.test, CapacityTest)
    return judge_capacity(WRITES, WRITES.test, CapacityEvidence(result, "/runs/c.json"), None)


def test_capacity_pass_on_a_sustained_step_at_or_above_the_claim() -> None:
    out = _judge_writes(_capacity("postgres-write", [
        _step(5000, 5000, sustained=True), _step(12000, 11990, sustained=True),
        _step(20000, 13000, sustained=False),
    ]))  # fmt: skip
    assert out.verdict == "pass", out
    assert out.measured_value == 11990 and "11,990 writes/s" in out.measured
    assert out.evidence == ["/runs/c.json"]


def test_capacity_fail_when_the_system_breaks_below_the_claim() -> None:
    out = _judge_writes(_capacity("postgres-write", [
        _step(1000, 1000, sustained=True), _step(2000, 1990, sustained=True),
        _step(4000, 2600, sustained=False, p99_ms=900),
    ]))  # fmt: skip
    assert out.verdict == "fail", out
    assert "could not sustain 4,000 writes/s" in out.reason and "p99 900 ms" in out.reason
    assert out.measured.startswith("1,990 writes/s")


def test_capacity_judges_the_step_above_the_highest_sustained_one() -> None:
    # A noisy broken step below a sustained one, and one too small to judge, decide nothing.
    tiny = _step(3000, 0, sustained=False).model_copy(update={"sent": 20})
    out = _judge_writes(_capacity("postgres-write", [
        _step(1000, 1000, sustained=True), _step(1500, 1200, sustained=False),
        _step(2000, 2000, sustained=True), tiny, _step(4000, 2500, sustained=False),
    ]))  # fmt: skip
    assert out.verdict == "fail" and "could not sustain 4,000 writes/s" in out.reason, out


def test_capacity_saturated_generator_is_inconclusive_never_fail() -> None:
    out = _judge_writes(_capacity("postgres-write", [
        _step(1000, 1000, sustained=True), _step(2000, 1500, sustained=False, saturated=True),
    ]))  # fmt: skip
    assert out.verdict == "inconclusive", out
    assert "generator saturated at 2,000 writes/s" in out.reason
    # The capacity runner's own inconclusive status carries its reason through.
    flagged = _judge_writes(_capacity("postgres-write", [_step(1000, 1000, sustained=True)],
                                      status="inconclusive",
                                      reason="generator saturated at 1,400/s"))  # fmt: skip
    assert flagged.verdict == "inconclusive" and flagged.reason.startswith("generator saturated")
    assert flagged.measured.startswith(">= 1,000")  # a lower bound, shown as one


def test_capacity_inconclusive_when_steps_cannot_decide() -> None:
    out_of_steps = _judge_writes(_capacity("postgres-write", [_step(4000, 4000, sustained=True)]))
    assert out_of_steps.verdict == "inconclusive" and "more steps" in out_of_steps.reason
    between = _judge_writes(_capacity("postgres-write", [
        _step(8000, 8000, sustained=True), _step(16000, 11000, sustained=False),
    ]))  # fmt: skip
    assert between.verdict == "inconclusive" and "between 8,000" in between.reason
    nothing = judge_claim(WRITES, {}, {})
    assert nothing.verdict == "inconclusive" and nothing.measured == "-"


def test_projection_is_shown_but_never_passes() -> None:
    assert isinstance(READS.test, CapacityTest)
    # One replica sustains 12,000/s: x 3 replicas = 36,000 >= 30,000, but that is a projection.
    result = _capacity("postgres-read", [
        _step(12000, 12000, sustained=True), _step(16000, 12500, sustained=False),
    ])  # fmt: skip
    one = judge_capacity(READS, READS.test, CapacityEvidence(result), Units("replica", 1, 3))
    assert one.verdict == "inconclusive", one
    assert one.projection.startswith("projection, not measured: 36,000 reads/s")
    assert "12,000 reads/s per replica x 3 replicas" in one.projection
    assert one.measured_value == 12000 and "36,000" not in one.measured
    assert "cannot decide" in one.reason
    # Measured on as many replicas as the claim is about: the measurement decides, no projection.
    three = judge_capacity(READS, READS.test, CapacityEvidence(result), Units("replica", 3, 3))
    assert three.verdict == "fail" and three.projection == ""


def test_projection_units_from_topology() -> None:
    kafka = _claim('{"id": "k", "number": 1, "claim": "1M", "claimed": 1000000, '
                   '"unit": "events/s", "test": {"capacity": "kafka", '
                   '"projection": {"per": "broker"}}}')  # fmt: skip
    result = _capacity("kafka", [_step(50000, 50000, sustained=True),
                                 _step(80000, 60000, sustained=False)])  # fmt: skip
    out = judge_claim(kafka, {"kafka": CapacityEvidence(result)}, {}, {"broker": (1, 3)})
    assert out.verdict == "inconclusive" and "150,000 events/s" in out.projection


def test_untestable_is_always_inconclusive_with_its_reason() -> None:
    claims = {c.id: c for c in load_claims(default_claims_file()).claims}
    out = judge_claim(claims["redis-hit-rate"], {}, {})
    assert out.verdict == "inconclusive" and "Grace's own keys" in out.reason


# -- judging chaos runs --------------------------------------------------------------------
def _journal(name: str, findings: dict[str, tuple[str, float | None]], *,
             status: str = "completed", reason: str = "",
             metrics: dict[str, Any] | None = None, target: str = "pg-0") -> Journal:  # fmt: skip
    values: dict[str, Any] = {k: v for k, (_, v) in findings.items()}
    values.update(metrics or {})
    return Journal.model_validate({
        "scenario": {"name": name}, "status": status, "reason": reason, "start": 0.0,
        "profile": "dev", "replication_mode": "synchronous", "metrics": values,
        "fault_windows": [{"name": "node.kill", "target": target, "start": 1.0}],
        "findings": [FindingRecord(name=k, value=v, threshold="t", status=s,  # type: ignore[arg-type]
                                   reason=f"{k} {s}") for k, (s, v) in findings.items()],
    })  # fmt: skip


def _grace(claim_id: str) -> Claim:
    return next(c for c in load_claims(default_claims_file()).claims if c.id == claim_id)


def test_scenario_claim_pass_fail_and_bus_mismatch() -> None:
    failover = _grace("automatic-failover")
    ok = _journal("kill-primary", {"rto_s": ("pass", 21.0), "lost_acked_writes": ("pass", 0)})
    ok2 = _journal("kill-postmaster", {"rto_s": ("pass", 3.0), "lost_acked_writes": ("pass", 0)})
    out = judge_claim(failover, {}, {
        "kill-primary.yaml": ScenarioEvidence(ok, "/runs/a/journal.json"),
        "kill-postmaster.yaml": ScenarioEvidence(ok2, "/runs/b/journal.json"),
    })  # fmt: skip
    assert out.verdict == "pass", out
    assert out.evidence == ["/runs/a/journal.json", "/runs/b/journal.json"]
    assert "kill-primary: rto_s = 21.0, lost_acked_writes = 0" in out.measured

    lost = _journal("kill-postmaster", {"rto_s": ("pass", 3.0), "lost_acked_writes": ("fail", 2)})
    out = judge_claim(failover, {}, {"kill-primary.yaml": ScenarioEvidence(ok),
                                     "kill-postmaster.yaml": ScenarioEvidence(lost)})  # fmt: skip
    assert out.verdict == "fail" and "lost_acked_writes fail" in out.reason

    spof = _grace("event-bus-no-spof")
    wrong_bus = _journal("kafka-kill-broker", {}, status="aborted", reason=(
        "scenario needs the kafka bus; this stack runs redis-streams "
        "(bring it up with GRACECTL_BUS=kafka)"))  # fmt: skip
    redis_ok = _journal("kill-redis-master", {"recovery_s": ("pass", 4.0)})
    out = judge_claim(spof, {}, {"kafka-kill-broker.yaml": ScenarioEvidence(wrong_bus),
                                 "kill-redis-master.yaml": ScenarioEvidence(redis_ok)})  # fmt: skip
    assert out.verdict == "inconclusive" and "GRACECTL_BUS=kafka" in out.reason
    crashed = judge_claim(spof, {}, {
        "kafka-kill-broker.yaml": ScenarioEvidence(None, error="no gracectl stack at /x")})
    assert crashed.verdict == "inconclusive" and "no gracectl stack" in crashed.reason


def test_no_recovery_while_the_node_is_down_fails_the_spof_claim() -> None:
    # What killing a lone HAProxy looks like: the checker leaves rto_s unmeasured
    # (inconclusive), but 1,400 writes were tried during the fault and none succeeded.
    haproxy = _journal(
        "kill-haproxy",
        {"rto_s": ("inconclusive", None), "write_unavailable_longest_s": ("fail", 37.0),
         "read_availability": ("fail", 0.0)},
        metrics={"writes_in_fault": 1400}, target="haproxy",
    )  # fmt: skip
    others = {
        "kill-primary.yaml": ScenarioEvidence(_journal("kill-primary", {"rto_s": ("pass", 20.5)})),
        "kill-redis-master.yaml": ScenarioEvidence(
            _journal("kill-redis-master", {"recovery_s": ("pass", 5.0)})),
        "kafka-kill-broker.yaml": ScenarioEvidence(
            _journal("kafka-kill-broker", {"recovery_s": ("pass", 9.0)})),
        "kill-haproxy.yaml": ScenarioEvidence(haproxy, "/runs/h/journal.json"),
    }  # fmt: skip
    out = judge_claim(_grace("zero-spof"), {}, others)
    assert out.verdict == "fail", out
    assert "writes never resumed after the fault on haproxy: none of 1400 writes" in out.reason
    # Too few attempts to say so: stays inconclusive.
    thin = _journal("kill-haproxy", {"rto_s": ("inconclusive", None),
                                     "write_unavailable_longest_s": ("pass", 1.0),
                                     "read_availability": ("pass", 1.0)},
                    metrics={"writes_in_fault": 3})  # fmt: skip
    out = judge_claim(_grace("zero-spof"), {}, {**others,
                                                "kill-haproxy.yaml": ScenarioEvidence(thin)})
    assert out.verdict == "inconclusive", out


def test_availability_is_never_passed_by_a_chaos_run() -> None:
    claim = _grace("postgres-availability")  # 99.95 %
    assert downtime_budget_s(99.9) == pytest.approx(43.2 * 60)
    fast = _journal("kill-primary", {"rto_s": ("pass", 21.6)}, metrics={"writes_in_fault": 900})
    out = judge_claim(claim, {}, {"kill-primary.yaml": ScenarioEvidence(fast, "/j.json")})
    assert out.verdict == "inconclusive", out
    assert "downtime per failure" in out.reason
    assert out.projection == (
        "projection, not measured: 99.95 % allows 21.6 min/month = 60 failures like the "
        "slowest measured (21.6 s) per month"
    )
    assert out.measured_value == pytest.approx(21.6)
    never = _journal("kill-primary", {"rto_s": ("inconclusive", None)},
                     metrics={"writes_in_fault": 900})  # fmt: skip
    out = judge_claim(claim, {}, {"kill-primary.yaml": ScenarioEvidence(never)})
    assert out.verdict == "fail" and "never resumed" in out.reason
    slow = _journal("kill-primary", {"rto_s": ("fail", 1500.0)}, metrics={"writes_in_fault": 900})
    out = judge_claim(claim, {}, {"kill-primary.yaml": ScenarioEvidence(slow)})
    assert out.verdict == "fail" and "more than the 21.6 min" in out.reason
    untrusted = _journal("kill-primary", {"rto_s": ("inconclusive", 1500.0)})
    out = judge_claim(claim, {}, {"kill-primary.yaml": ScenarioEvidence(untrusted)})
    assert out.verdict == "inconclusive"


# -- exit codes and the runner -------------------------------------------------------------
def _verify_journal(*verdicts: str) -> VerifyJournal:
    results = [ClaimResult(id=f"c{i}", claim="c", claimed="x", measured="-",
                           verdict=v)  # type: ignore[arg-type]
               for i, v in enumerate(verdicts)]  # fmt: skip
    return VerifyJournal(start=time.time(), profile="dev", machine=this_machine(),
                         claims_file="f", results=results)  # fmt: skip


def test_exit_codes() -> None:
    assert _verify_journal("pass", "pass").exit_code() == 0
    assert _verify_journal("pass", "fail", "inconclusive").exit_code() == 1
    assert _verify_journal("pass", "inconclusive").exit_code() == 3
    assert _verify_journal().exit_code() == 3


def test_quick_scenario_cuts_only_the_lead_in() -> None:
    primary = load_scenario(bundled_dir() / "kill-primary.yaml")
    quick = quick_scenario(primary)
    assert quick.faults[0].at_s == 5 and quick.load.duration_s == primary.load.duration_s - 3
    assert quick.observe_s == primary.observe_s and quick.invariants == primary.invariants
    replay = load_scenario(bundled_dir() / "replay.yaml")
    assert quick_scenario(replay) == replay  # its fault is already 5 s in


MIXED_CLAIMS = """document: test
claims:
  - {id: writes, number: 1, claim: "Writes: 10K/sec", claimed: 10000, unit: writes/s,
     test: {capacity: postgres-write}}
  - {id: writes-again, number: 2, claim: "10K writes", claimed: 10000, unit: writes/s,
     test: {capacity: postgres-write}}
  - {id: failover, number: 3, claim: "Automatic failover", claimed: recovers,
     test: {scenario: kill-primary.yaml, metrics: [rto_s]}}
  - {id: no-loss, number: 4, claim: "No data loss", claimed: none lost,
     test: {scenario: kill-primary.yaml, metrics: [lost_acked_writes]}}
"""


def _fake_capacity(rate: float, calls: list[list[CapacityComponent]]) -> Callable[..., Any]:
    def run_capacity(settings: Settings, components: list[CapacityComponent], slo: Slo,
                     **kwargs: Any) -> CapacityJournal:  # fmt: skip
        calls.append(components)
        assert kwargs["step_s"] == 3.0 and kwargs["native"] is False  # --quick
        steps = [_step(rate, rate, sustained=True), _step(rate * 2, rate, sustained=False)]
        return CapacityJournal(start=0, profile="dev", machine=this_machine(),
                               results=[_capacity(components[0], steps)])  # fmt: skip
    return run_capacity


def _fake_scenarios(rto: float | None, calls: list[Scenario]) -> Callable[..., Journal]:
    def run_scenario(settings: Settings, scenario: Scenario, notify: Any) -> Journal:
        calls.append(scenario)
        return _journal(scenario.name, {
            "rto_s": ("pass" if rto is not None else "inconclusive", rto),
            "lost_acked_writes": ("pass", 0),
        }, metrics={"writes_in_fault": 500})  # fmt: skip
    return run_scenario


@pytest.mark.parametrize(
    ("rate", "rto", "verdicts", "code"),
    [
        (12000.0, 20.0, ["pass", "pass", "pass", "pass"], 0),
        (1500.0, 20.0, ["fail", "fail", "pass", "pass"], 1),
        (12000.0, None, ["pass", "pass", "fail", "pass"], 1),
    ],
)
def test_run_verify_runs_each_test_once_and_writes_the_journal(
    tmp_path: Path, rate: float, rto: float | None, verdicts: list[str], code: int
) -> None:
    claims = _write(tmp_path, MIXED_CLAIMS)
    capacity_calls: list[list[CapacityComponent]] = []
    scenario_calls: list[Scenario] = []
    run_dir = tmp_path / "runs" / "verify-test"
    run_dir.mkdir(parents=True)
    journal = run_verify(
        Settings(home=tmp_path / "home", profile="dev"), claims, quick=True,
        run_capacity=_fake_capacity(rate, capacity_calls),
        run_scenario=_fake_scenarios(rto, scenario_calls), run_dir=run_dir,
    )  # fmt: skip
    assert capacity_calls == [["postgres-write"]]
    assert [s.name for s in scenario_calls] == ["kill-primary"]
    assert scenario_calls[0].faults[0].at_s == 5  # --quick
    assert [r.verdict for r in journal.results] == verdicts
    assert journal.exit_code() == code
    assert journal.profile == "dev" and journal.machine.cores >= 1
    written = VerifyJournal.read(run_dir / "journal.json")
    assert written.results == journal.results
    assert (run_dir / "capacity-postgres-write.json").exists()
    assert journal.results[0].evidence == [str(run_dir / "capacity-postgres-write.json")]
    assert journal.results[2].evidence == [str(run_dir / "kill-primary.journal.json")]


def test_run_verify_only_and_inconclusive_exit(tmp_path: Path) -> None:
    claims = _write(tmp_path, MIXED_CLAIMS)
    scenario_calls: list[Scenario] = []
    run_dir = tmp_path / "v"
    run_dir.mkdir()

    def broken_capacity(*args: Any, **kwargs: Any) -> CapacityJournal:
        raise ConfigError("capacity: no stack here")

    journal = run_verify(
        Settings(home=tmp_path / "home"), claims, only=["writes"],
        run_capacity=broken_capacity, run_scenario=_fake_scenarios(1.0, scenario_calls),
        run_dir=run_dir,
    )  # fmt: skip
    assert [r.id for r in journal.results] == ["writes"] and not scenario_calls
    assert journal.results[0].verdict == "inconclusive"
    assert "no stack here" in journal.results[0].reason
    assert journal.exit_code() == 3


def test_an_interrupted_capacity_run_stops_verify(tmp_path: Path) -> None:
    """Ctrl-C during one capacity run must not go on to the next one (exit 130)."""
    from gracectl.errors import Interrupted
    from gracectl.verify import runner as verify_runner

    calls: list[str] = []

    def interrupted_capacity(settings: Any, components: list[Any], slo: Any, **_: Any) -> Any:
        calls.append(components[0])
        return CapacityJournal(start=0.0, profile="dev", machine=this_machine(),
                               interrupted="SIGINT")  # fmt: skip

    with pytest.raises(Interrupted) as info:
        verify_runner._capacity(
            Settings(home=tmp_path / "home"), ["postgres-write", "redis"], interrupted_capacity,
            Slo(), None, verify_runner.QUICK_CAPACITY, tmp_path, lambda _: None,
        )  # fmt: skip
    assert info.value.exit_code == 130
    assert calls == ["postgres-write"]


def _with_native(result: ComponentCapacity, throughput: float, p99_ms: float) -> ComponentCapacity:
    native = NativeCeiling(tool="pgbench", command="pgbench -c 8", throughput=throughput,
                           unit="writes/s", p99_ms=p99_ms)  # fmt: skip
    return result.model_copy(update={"native": native})


def test_a_native_ceiling_below_the_claim_fails_it_even_with_a_saturated_generator() -> None:
    saturated = _capacity("postgres-write", [
        _step(1000, 1000, sustained=True), _step(2000, 1500, sustained=False, saturated=True),
    ], status="inconclusive", reason="generator saturated at 2,000/s")  # fmt: skip
    out = _judge_writes(_with_native(saturated, 2632, 7.4))
    assert out.verdict == "fail", out
    assert "even pgbench" in out.reason and "2,632 writes/s" in out.reason
    # Above the claim, the native figure proves nothing against it: the verdict stays open.
    assert _judge_writes(_with_native(saturated, 12000, 7.4)).verdict == "inconclusive"


def test_a_break_the_native_tool_shows_the_system_goes_past_is_not_a_fail() -> None:
    broke = _capacity("postgres-write", [
        _step(1000, 1000, sustained=True), _step(2000, 1990, sustained=True),
        _step(4000, 2600, sustained=False, p99_ms=900),
    ])  # fmt: skip
    out = _judge_writes(_with_native(broke, 15000, 7.4))
    assert out.verdict == "inconclusive", out
    assert "the break is the load generator's" in out.reason
    # A native figure outside the SLO does not clear the system.
    assert _judge_writes(_with_native(broke, 15000, 900)).verdict == "fail"
