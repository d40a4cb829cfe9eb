"""Synthetic journals of each kind (chaos, capacity, verify) for the report tests: built
from the real models, with a history that has a real outage, and text that needs escaping."""

from __future__ import annotations

from pathlib import Path

from gracectl.capacity.model import (
    CapacityJournal,
    CapacityStatus,
    ComponentCapacity,
    NativeCeiling,
    StepResult,
)
from gracectl.checks.timeseries import per_second_series
from gracectl.history import FaultWindow, Operation, Outcome
from gracectl.journal import ActionRecord, FindingRecord, Journal, RunStatus, Verdict
from gracectl.machine import MachineInfo
from gracectl.verify.model import ClaimResult, ClaimVerdict, VerifyJournal

T0 = 1_764_000_000.0  # load start
KILL_AT, RESUME_AT, HEALED_AT, LOAD_END = 8.0, 29.0, 45.0, 45.0
# Text a report must escape in every format: markup, quotes, ampersand, table pipes.
NASTY = '<script>alert("x")</script> & "quoted" | piped'


def machine() -> MachineInfo:
    return MachineInfo(
        cores=2,
        memory_mib=24_000,
        cpu_model="Test CPU @ 2.0GHz",
        kernel="6.1.0",
        hostname="ci-box",
        load_avg_1m=0.42,
    )


def outage_history(rate: float = 50.0) -> list[Operation]:
    """Writes and reads at `rate`/s each for LOAD_END s; writes fail from the kill until
    RESUME_AT (an RTO of 21 s) and the first two seconds of the outage time out (info)."""
    ops = []
    step = 1.0 / rate
    for i in range(int(LOAD_END * rate)):
        at = T0 + i * step
        since = at - T0
        outcome: Outcome = "ok"
        latency = 0.004
        if KILL_AT <= since < RESUME_AT:
            outcome = "info" if since < KILL_AT + 2 else "fail"
            latency = 2.0 if outcome == "info" else 0.05
        ops.append(
            Operation(
                worker="writer-0",
                op="write",
                value=i,
                intended=at,
                start=at,
                end=at + latency,
                outcome=outcome,
            )
        )
        ops.append(
            Operation(
                worker="reader-0",
                op="read",
                value=i,
                intended=at,
                start=at,
                end=at + 0.002,
                outcome="ok",
            )
        )
    return ops


def chaos_journal(
    verdict: Verdict = "pass", status: RunStatus = "completed", with_series: bool = True
) -> Journal:
    lost = 3 if verdict == "fail" else 0
    rto_status: Verdict = "inconclusive" if verdict == "inconclusive" else "pass"
    window = FaultWindow(
        name="postgres.kill_leader", target="pg-1", start=T0 + KILL_AT, end=T0 + HEALED_AT
    )
    return Journal(
        scenario={"name": "kill-primary"},
        status=status,
        start=T0 - 5,
        end=T0 + 70,
        profile="dev",
        replication_mode="synchronous",
        actions=[ActionRecord(name="load.start", started=T0, ended=T0)],  # time zero of plots
        fault_windows=[window.model_dump(mode="json")],
        metrics={"rto_s": RESUME_AT - KILL_AT, "acked_writes": 1200, "lost_acked_writes": lost},
        findings=[
            FindingRecord(
                name="lost_acked_writes",
                value=lost,
                threshold="<= 0",
                status="fail" if lost else "pass",
                reason=f"{lost} acknowledged writes lost {NASTY}" if lost else "",
            ),
            FindingRecord(
                name="rto_s",
                value=RESUME_AT - KILL_AT,
                threshold="<= 35",
                status=rto_status,
                reason="too few writes in the fault" if rto_status != "pass" else "",
            ),
        ],
        lost_acked_ids=[101, 102, 103][:lost],
        verdict=verdict,
        reason="" if verdict == "pass" else f"verdict {verdict}",
        history_path="/tmp/gone/history",
        machine=machine(),
        timeseries=per_second_series(outage_history()) if with_series else [],
    )


def step(offered: float, achieved: float, p99_ms: float, saturated: bool = False) -> StepResult:
    sustained = achieved >= 0.99 * offered and p99_ms <= 50 and not saturated
    return StepResult(
        offered_rate=offered,
        achieved_rate=achieved,
        sent=int(offered * 10),
        ok=int(achieved * 10),
        errors=0,
        late=0 if not saturated else 500,
        p50_ms=p99_ms / 4,
        p99_ms=p99_ms,
        p999_ms=p99_ms * 1.5,
        generator_cpu=0.97 if saturated else 0.4,
        sustained=sustained,
        generator_saturated=saturated,
    )


def component(status: CapacityStatus = "measured") -> ComponentCapacity:
    steps = [
        step(200, 200, 3),
        step(400, 399, 4),
        step(800, 795, 6),
        step(1200, 1190, 14),
        step(1600, 1420, 180),
        step(2000, 1450, 900, saturated=status != "measured"),
    ]
    return ComponentCapacity(
        component="postgres-write",
        target="127.0.0.1:15502 (HAProxy rw)",
        unit="writes/s",
        status=status,
        reason="" if status == "measured" else f"generator saturated at 2,000/s {NASTY}",
        max_sustainable_rate=1190,
        knee_rate=1200,
        generator_limit_rate=None if status == "measured" else 2000,
        steps=steps,
        native=NativeCeiling(
            tool="pgbench",
            command="pgbench -f insert.sql -c 8 -T 10",
            throughput=5770,
            unit="tps",
            p99_ms=4.0,
        ),
        ratio_to_native=1190 / 5770,
    )


def capacity_journal(status: CapacityStatus = "measured") -> CapacityJournal:
    return CapacityJournal(
        start=T0, end=T0 + 120, profile="dev", machine=machine(), results=[component(status)]
    )


def claim(
    verdict: ClaimVerdict,
    claim_id: str = "postgres-writes",
    projection: str = "",
    evidence: tuple[str, ...] = ("/tmp/runs/capacity/journal.json",),
) -> ClaimResult:
    return ClaimResult(
        id=claim_id,
        claim="Writes: 10K/sec (primary)",
        claimed="10,000 writes/s",
        measured="1,190 writes/s",
        measured_value=1190,
        projection=projection,
        verdict=verdict,
        reason={
            "pass": "",
            "fail": f"1,190 < 10,000 {NASTY}",
            "inconclusive": "generator saturated",
        }[verdict],
        evidence=list(evidence),
    )


def verify_journal(*verdicts: ClaimVerdict) -> VerifyJournal:
    results = [claim(v, f"claim-{i}") for i, v in enumerate(verdicts)]
    results.append(
        claim("pass", "postgres-reads", projection="3,570 reads/s (per-replica 1,190 x 3 replicas)")
    )
    return VerifyJournal(
        start=T0,
        end=T0 + 300,
        profile="dev",
        machine=machine(),
        claims_file="scenarios/claims/grace.yaml",
        results=results,
    )


def write_journals(directory: Path) -> dict[str, Path]:
    """One journal of each kind on disk (chaos passing, capacity measured, verify failing)."""
    paths = {
        "chaos": directory / "chaos.json",
        "capacity": directory / "capacity.json",
        "verify": directory / "verify.json",
    }
    chaos_journal().write(paths["chaos"])
    capacity_journal().write(paths["capacity"])
    verify_journal("pass", "fail", "inconclusive").write(paths["verify"])
    return paths
