"""`gracectl verify`: run each capacity component and each chaos scenario the claims need,
once each (claims share them), judge every claim, and write the verify journal.

The capacity and scenario runners are parameters, so the judging can be tested without
servers. A run that cannot happen (no result, the wrong bus, an aborted scenario) leaves
its claims inconclusive; it never stops the other runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gracectl import runner as chaos_runner
from gracectl.capacity.model import CapacityComponent, CapacityJournal, Slo
from gracectl.config import KafkaConfig, PostgresConfig, Settings
from gracectl.errors import GracectlError, Interrupted
from gracectl.journal import Journal
from gracectl.machine import this_machine
from gracectl.scenario import Scenario, parse_scenario
from gracectl.state_file import settings_of_running_stack
from gracectl.verify.claims import LoadedClaims, ProjectionUnit, load_claims
from gracectl.verify.judge import CapacityEvidence, ScenarioEvidence, judge_claim
from gracectl.verify.model import VerifyJournal

log = logging.getLogger(__name__)
Notify = Callable[[str], None]
ScenarioRunner = Callable[[Settings, Scenario, Notify], Journal]
JOURNAL_NAME = "journal.json"


class CapacityRunner(Protocol):
    def __call__(
        self,
        settings: Settings,
        components: list[CapacityComponent],
        slo: Slo,
        *,
        target: str | None,
        step_s: float,
        max_steps: int,
        start_rate: float | None,
        native: bool = True,
        notify: Notify = ...,
        allow_remote_target: bool = False,
    ) -> CapacityJournal: ...


@dataclass(frozen=True)
class CapacityPlan:
    step_s: float
    max_steps: int
    native: bool


FULL_CAPACITY = CapacityPlan(step_s=10.0, max_steps=12, native=True)
# Short steps, fewer of them, no native tool: enough to show the machinery works end to end
# (a quick figure is more often inconclusive, never more often passed).
QUICK_CAPACITY = CapacityPlan(step_s=3.0, max_steps=5, native=False)
#: --quick keeps this much load before a scenario's first fault (Locust must be up and the
#: `before` phase needs samples); everything from the fault on is kept as written, since the
#: recovery it measures takes as long as it takes.
QUICK_LEAD_S = 5.0


def real_capacity_runner() -> CapacityRunner:
    """`gracectl.capacity.runner.run_capacity` (imported when first needed: it brings the
    load generator's machinery with it)."""
    from gracectl.capacity.runner import run_capacity

    return run_capacity


def verify_run_dir(settings: Settings) -> Path:
    """`$GRACECTL_HOME/runs/verify-<timestamp>` (a suffix when two start in one second)."""
    runs = settings.home_path / "runs"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(100):
        path = runs / (f"verify-{stamp}" + (f"-{attempt}" if attempt else ""))
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise GracectlError(f"{runs}: cannot create a verify run directory", hint="clean up runs/")


def quick_scenario(scenario: Scenario, lead_s: float = QUICK_LEAD_S) -> Scenario:
    """The scenario with its quiet lead-in before the first fault cut to `lead_s`: every
    fault, the replay point and the end move earlier by the same amount."""
    shift = min(f.at_s for f in scenario.faults) - lead_s
    if shift <= 0:
        return scenario
    data = scenario.model_dump(mode="json")
    for fault in data["faults"]:
        fault["at_s"] -= shift
    load = "events" if scenario.events else "load"
    data[load]["duration_s"] -= shift
    if scenario.events and scenario.events.replay_from_s is not None:
        data["events"]["replay_from_s"] = max(0.0, scenario.events.replay_from_s - shift)
    return parse_scenario(data, f"{scenario.name} (--quick)")


def units_of(settings: Settings) -> dict[ProjectionUnit, tuple[int, int]]:
    """Per projection unit: (units the stack under test has, units the document's topology
    has, i.e. the `ha` profile's defaults)."""
    return {
        "replica": (settings.postgres.replicas, PostgresConfig().replicas),
        "broker": (settings.kafka.brokers if settings.bus == "kafka" else 0, KafkaConfig().brokers),
        "node": (1, 1),
    }


def _capacity(
    settings: Settings,
    components: list[CapacityComponent],
    run_capacity: CapacityRunner,
    slo: Slo,
    target: str | None,
    plan: CapacityPlan,
    run_dir: Path,
    notify: Notify,
    allow_remote_target: bool = False,
) -> dict[str, CapacityEvidence]:
    found: dict[str, CapacityEvidence] = {}
    for component in components:
        notify(f"capacity {component}: stepping the offered rate up ({plan.step_s:g} s steps)")
        try:
            journal = run_capacity(
                settings, [component], slo, target=target, step_s=plan.step_s,
                max_steps=plan.max_steps, start_rate=None, native=plan.native, notify=notify,
                **({"allow_remote_target": True} if allow_remote_target else {}),
            )  # fmt: skip
        except GracectlError as exc:
            found[component] = CapacityEvidence(None, error=f"capacity {component}: {exc.message}")
            notify(f"capacity {component} could not run: {exc.message}")
            continue
        path = run_dir / f"capacity-{component}.json"
        journal.write(path)
        if journal.interrupted:
            raise Interrupted(
                f"verify interrupted by {journal.interrupted} during the {component} "
                "capacity run",
                hint=f"what ran is in {run_dir}",
            )
        found[component] = CapacityEvidence(journal.result_of(component), str(path))
    return found


def _journal_path(journal: Journal, run_dir: Path) -> Path:
    """Where the chaos runner wrote the journal (next to its history); a copy in the verify
    run directory when it is not there."""
    if journal.history_path:
        beside = Path(journal.history_path).parent / JOURNAL_NAME
        if beside.exists():
            return beside
    name = journal.scenario.get("name", "scenario")
    copy = run_dir / f"{name}.{JOURNAL_NAME}"
    journal.write(copy)
    return copy


def _scenarios(
    settings: Settings,
    claims: LoadedClaims,
    run_scenario: ScenarioRunner,
    quick: bool,
    run_dir: Path,
    notify: Notify,
) -> dict[str, ScenarioEvidence]:
    by_path: dict[Path, ScenarioEvidence] = {}
    files = claims.scenario_files()
    for index, path in enumerate(files, 1):
        scenario = claims.scenarios[path]
        if quick:
            scenario = quick_scenario(scenario)
        notify(f"scenario {scenario.name} ({index}/{len(files)}): {path}")
        try:
            journal = run_scenario(settings, scenario, notify)
        except GracectlError as exc:
            by_path[path] = ScenarioEvidence(None, error=exc.message)
            notify(f"scenario {scenario.name} could not run: {exc.message}")
            continue
        evidence = str(_journal_path(journal, run_dir))
        if journal.status == "interrupted":
            raise Interrupted(f"verify interrupted during scenario {scenario.name} "
                              "(its faults healed)", hint=f"its journal: {evidence}")  # fmt: skip
        by_path[path] = ScenarioEvidence(journal, evidence)
        notify(f"scenario {scenario.name}: {journal.verdict} ({journal.status})")
    return {ref: by_path[path] for ref, path in claims.scenario_paths.items() if path in by_path}


def run_verify(
    settings: Settings,
    claims_file: Path,
    *,
    only: list[str] | None = None,
    slo: Slo | None = None,
    target: str | None = None,
    quick: bool = False,
    run_capacity: CapacityRunner | None = None,
    run_scenario: ScenarioRunner = chaos_runner.run_scenario,
    notify: Notify = log.info,
    run_dir: Path | None = None,
    allow_remote_target: bool = False,
) -> VerifyJournal:
    """Run what the claims need, judge each claim, write `<run_dir>/journal.json`.

    `run_capacity` None means the real capacity runner; `run_dir`
    None means a new `runs/verify-<timestamp>` directory under the stack's home.
    """
    claims = load_claims(claims_file).select(only)
    settings = settings_of_running_stack(settings)
    run_dir = run_dir or verify_run_dir(settings)
    journal = VerifyJournal(
        start=time.time(),
        profile=settings.profile,
        machine=this_machine(),
        claims_file=str(claims.path),
    )
    components = claims.capacity_components()
    capacity = {} if not components else _capacity(
        settings,
        components,
        run_capacity or real_capacity_runner(),
        slo or Slo(),
        target,
        QUICK_CAPACITY if quick else FULL_CAPACITY,
        run_dir,
        notify,
        allow_remote_target,
    )
    scenarios = _scenarios(settings, claims, run_scenario, quick, run_dir, notify)
    units = units_of(settings)
    journal.results = [judge_claim(c, capacity, scenarios, units) for c in claims.claims]
    journal.end = time.time()
    journal.write(run_dir / JOURNAL_NAME)
    log.info("verify: %s claims judged, journal %s", len(journal.results), run_dir / JOURNAL_NAME)
    return journal
