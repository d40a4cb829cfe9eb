"""The claims file: each claim of the Grace document, in the document's words, with the test
it rests on. Claims are data, validated by a typed model, like scenarios.

A claim's `test` is one of:
- `capacity: <component>`: a capacity run's maximum sustainable rate, optionally with a
  `projection` (the measured figure per replica / broker / node times a count), which is
  shown labelled and never decides the verdict;
- `scenario: <file>` + `metrics: [...]`, or `scenarios: [{scenario, metrics}, ...]`: chaos
  runs' findings on the named metrics (each must be an invariant the scenario judges);
- `availability: [{scenario, metric}, ...]`: the downtime per failure a chaos run measures
  (`rto_s`, `recovery_s`) set against the claimed percentage;
- `untestable: <reason>`: gracectl cannot test it; always inconclusive, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from gracectl.capacity.model import CapacityComponent
from gracectl.checks.verdict import EVENT_SAFETY_INVARIANTS, SAFETY_INVARIANTS
from gracectl.errors import ConfigError
from gracectl.scenario import Scenario, bundled_dir, load_scenario
from gracectl.yaml_files import load_yaml_file

Comparison = Literal["at-least", "at-most"]
ProjectionUnit = Literal["replica", "broker", "node"]
#: Metrics that are a downtime per failure, usable by an `availability` test.
DowntimeMetric = Literal["rto_s", "recovery_s"]
HINT = "see scenarios/claims/grace.yaml for the shape of a claims file"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Projection(_Strict):
    """Show `measured / units measured x count` as a projection (linear scaling assumed)."""

    per: ProjectionUnit
    #: How many units the claim is about; `from-topology`: as many as the Grace document's
    #: topology (the `ha` profile) has, e.g. 3 replicas, 3 Kafka brokers.
    count: Annotated[int, Field(ge=1, le=1000)] | Literal["from-topology"] = "from-topology"


class CapacityTest(_Strict):
    capacity: CapacityComponent
    projection: Projection | None = None


class ScenarioRef(_Strict):
    scenario: str = Field(..., min_length=1, description="file, relative to the claims file")
    metrics: list[str] = Field(..., min_length=1)


class ScenarioTest(_Strict):
    scenarios: list[ScenarioRef] = Field(..., min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _one_scenario_shorthand(cls, data: Any) -> Any:
        """`{scenario: f, metrics: [...]}` is short for `{scenarios: [{scenario: f, ...}]}`."""
        if isinstance(data, dict) and "scenario" in data:
            rest = {k: v for k, v in data.items() if k not in ("scenario", "metrics")}
            one = {"scenario": data["scenario"], "metrics": data.get("metrics")}
            return {**rest, "scenarios": [one]}
        return data


class DowntimeRef(_Strict):
    scenario: str = Field(..., min_length=1)
    metric: DowntimeMetric


class AvailabilityTest(_Strict):
    availability: list[DowntimeRef] = Field(..., min_length=1)


class UntestableTest(_Strict):
    untestable: str = Field(..., min_length=1, description="why gracectl cannot test it")


TEST_KEYS = ("capacity", "scenarios", "scenario", "availability", "untestable")


def _test_kind(data: Any) -> str | None:
    """Which kind of test a mapping is, by its key (a model instance: by its class)."""
    if isinstance(data, BaseModel):
        return _TAG_OF.get(type(data))
    if not isinstance(data, dict):
        return None
    key = next((k for k in TEST_KEYS if k in data), None)
    return "scenarios" if key == "scenario" else key


_TAG_OF: dict[type[BaseModel], str] = {
    CapacityTest: "capacity",
    ScenarioTest: "scenarios",
    AvailabilityTest: "availability",
    UntestableTest: "untestable",
}


ClaimTest = Annotated[
    Annotated[CapacityTest, Tag("capacity")]
    | Annotated[ScenarioTest, Tag("scenarios")]
    | Annotated[AvailabilityTest, Tag("availability")]
    | Annotated[UntestableTest, Tag("untestable")],
    Discriminator(
        _test_kind,
        custom_error_type="claim_test",
        custom_error_message="a test is one of: capacity, scenario(s), availability, untestable",
    ),
]


class Claim(_Strict):
    id: str = Field(..., pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    number: int = Field(..., ge=1, description="the claim's number, in document order")
    claim: str = Field(..., min_length=1, description="the document's words")
    where: str = Field("", description="where the document says it")
    claimed: float | str = Field(..., description="a number (with unit) or a statement")
    unit: str = ""
    comparison: Comparison = "at-least"
    note: str = Field("", description="what a verdict on this claim does and does not show")
    test: ClaimTest

    @model_validator(mode="after")
    def _numbers_where_needed(self) -> Claim:
        numeric = isinstance(self.claimed, float | int)
        if isinstance(self.test, CapacityTest | AvailabilityTest) and not numeric:
            raise ValueError("a capacity or availability claim needs a number in `claimed`")
        if isinstance(self.test, CapacityTest) and self.comparison != "at-least":
            raise ValueError("a capacity claim is a floor: comparison must be at-least")
        if isinstance(self.test, AvailabilityTest) and (
            self.unit != "%" or not 0 < float(self.claimed) < 100
        ):
            raise ValueError("an availability claim is a percentage between 0 and 100, unit '%'")
        return self

    @property
    def value(self) -> float | None:
        return float(self.claimed) if isinstance(self.claimed, float | int) else None

    def describe_claimed(self) -> str:
        if self.value is None:
            return str(self.claimed)
        if self.unit == "%":
            return f"{self.value:g} %"
        sign = ">=" if self.comparison == "at-least" else "<="
        return f"{sign} {format_number(self.value)} {self.unit}".rstrip()


class ClaimsFile(_Strict):
    document: str = Field(..., min_length=1, description="which document the claims are from")
    claims: list[Claim] = Field(..., min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> ClaimsFile:
        for attr in ("id", "number"):
            seen: set[object] = set()
            for claim in self.claims:
                value = getattr(claim, attr)
                if value in seen:
                    raise ValueError(f"two claims have the {attr} {value!r}")
                seen.add(value)
        return self


def format_number(value: float) -> str:
    """10000 -> '10,000'; 0.5 -> '0.5'."""
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"


@dataclass(frozen=True)
class LoadedClaims:
    """A validated claims file with every scenario it names resolved and loaded."""

    path: Path
    document: str
    claims: tuple[Claim, ...]
    #: scenario reference as written in the file -> its resolved path
    scenario_paths: dict[str, Path]
    scenarios: dict[Path, Scenario]

    def select(self, only: Iterable[str] | None) -> LoadedClaims:
        if not only:
            return self
        wanted = list(dict.fromkeys(only))
        known = {c.id for c in self.claims}
        unknown = [i for i in wanted if i not in known]
        if unknown:
            raise ConfigError(
                f"{self.path}: no claim with id {', '.join(map(repr, unknown))}",
                hint=f"ids in this file: {', '.join(c.id for c in self.claims)}",
            )
        chosen = tuple(c for c in self.claims if c.id in wanted)
        refs = set(scenario_refs(chosen))
        paths = {ref: p for ref, p in self.scenario_paths.items() if ref in refs}
        scenarios = {p: s for p, s in self.scenarios.items() if p in paths.values()}
        return LoadedClaims(self.path, self.document, chosen, paths, scenarios)

    def capacity_components(self) -> list[CapacityComponent]:
        """Each component once, in claim order."""
        found = [c.test.capacity for c in self.claims if isinstance(c.test, CapacityTest)]
        return list(dict.fromkeys(found))

    def scenario_files(self) -> list[Path]:
        """Each scenario file once, in claim order."""
        return list(dict.fromkeys(self.scenario_paths[r] for r in scenario_refs(self.claims)))


def scenario_refs(claims: Iterable[Claim]) -> list[str]:
    refs: list[str] = []
    for claim in claims:
        if isinstance(claim.test, ScenarioTest):
            refs.extend(ref.scenario for ref in claim.test.scenarios)
        elif isinstance(claim.test, AvailabilityTest):
            refs.extend(ref.scenario for ref in claim.test.availability)
    return list(dict.fromkeys(refs))


def default_claims_file() -> Path:
    return bundled_dir() / "claims" / "grace.yaml"


def judged_metrics(scenario: Scenario) -> list[str]:
    """The metrics a run of `scenario` writes findings on (its invariants, or the defaults
    its kind of run judges)."""
    if scenario.invariants:
        return [i.name for i in scenario.invariants]
    defaults = EVENT_SAFETY_INVARIANTS if scenario.events else SAFETY_INVARIANTS
    return [i.name for i in defaults]


def _resolve(ref: str, base: Path) -> Path:
    """Relative to the claims file, then to the bundled scenarios/ folder."""
    candidate = Path(ref)
    if candidate.is_absolute():
        return candidate
    for folder in (base, bundled_dir()):
        if (folder / candidate).exists():
            return (folder / candidate).resolve()
    return (base / candidate).resolve()


def _location(exc: ValidationError, data: Any) -> str:
    first = exc.errors()[0]
    parts = [str(p) for p in first["loc"]]
    # claims.3.test -> claims[3] (postgres-writes).test: readable and findable in the file
    if len(parts) >= 2 and parts[0] == "claims" and parts[1].isdigit():
        index = int(parts[1])
        claims = data.get("claims") if isinstance(data, dict) else None
        raw = claims[index] if isinstance(claims, list) and index < len(claims) else None
        name = f" ({raw['id']})" if isinstance(raw, dict) and "id" in raw else ""
        parts = [f"claims[{index}]{name}", *parts[2:]]
    return ".".join(parts) or "(top level)"


def parse_claims(data: Any, source: str) -> ClaimsFile:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a claims file must be a mapping", hint=HINT)
    try:
        return ClaimsFile.model_validate(data)
    except ValidationError as exc:
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(
            f"{source}: {_location(exc, data)}: {exc.errors()[0]['msg']}{more}", hint=HINT
        ) from exc


def _check_metrics(path: Path, claim: Claim, scenario_file: Path, scenario: Scenario,
                   metrics: Iterable[str]) -> None:  # fmt: skip
    judged = judged_metrics(scenario)
    for metric in metrics:
        if metric not in judged:
            raise ConfigError(
                f"{path}: claim {claim.id}: {scenario_file.name} judges no {metric!r}",
                hint=f"it judges {', '.join(judged)}; a claim rests only on findings the run "
                "makes (add the invariant to the scenario)",
            )


def load_claims(path: Path) -> LoadedClaims:
    data = load_yaml_file(
        path,
        "claims file",
        f"the Grace document's claims are in {default_claims_file()}",
    )
    parsed = parse_claims(data, str(path))
    base = path.resolve().parent
    scenario_paths: dict[str, Path] = {}
    scenarios: dict[Path, Scenario] = {}
    for claim in parsed.claims:
        if isinstance(claim.test, ScenarioTest):
            wanted = [(r.scenario, r.metrics) for r in claim.test.scenarios]
        elif isinstance(claim.test, AvailabilityTest):
            wanted = [(r.scenario, [r.metric]) for r in claim.test.availability]
        else:
            continue
        for ref, metrics in wanted:
            resolved = scenario_paths.setdefault(ref, _resolve(ref, base))
            if resolved not in scenarios:
                try:
                    scenarios[resolved] = load_scenario(resolved)
                except ConfigError as exc:
                    raise ConfigError(
                        f"{path}: claim {claim.id}: {exc.message}", hint=exc.hint
                    ) from exc
            _check_metrics(path, claim, resolved, scenarios[resolved], metrics)
    return LoadedClaims(path, parsed.document, tuple(parsed.claims), scenario_paths, scenarios)
