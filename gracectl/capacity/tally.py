"""Counting one capacity step where the load runs: `StepTally` is what each Locust process
keeps (cheap appends, no I/O per operation) and writes as a `ProcessReport` at the end;
`merge_reports` adds the processes up into a `RawStep`; `tally_event_ops` does the same from
an event workload's history (the kafka component).

Lateness is split by cause: a send is late when it left more than the tolerance after its
planned time. If its user was still waiting for the previous answer at the planned time, the
system held it (a slow answer); if the user was idle, only the generator (CPU, event loop)
can have held it: `late_generator`.

Achieved rate: each user's successful operations over the longer of its schedule (planned
operations x interval) and its first planned send -> its last successful answer, summed over
users. A user that keeps up scores exactly its rate; one that falls behind drains its backlog
late and scores what the system really delivered. Users that start a little apart
(connections open at different times) do not stretch anyone's window.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from gracectl.capacity.search import RawStep
from gracectl.history import EventOp

#: Distinct error messages kept per process (the rest are only counted).
MAX_ERROR_KINDS = 8
REPORT_GLOB = "proc-*.json"


class ProcessReport(BaseModel):
    """One load process's counts for one step (written as JSON by the locustfile)."""

    model_config = ConfigDict(frozen=True)

    pid: int
    users: int
    sent: int
    ok: int
    errors: int
    late: int
    late_generator: int
    achieved_rate: float
    latencies_ms: list[float]
    service_ms: list[float]
    loop_blocked_ms: float | None = None
    first_planned: float | None = None
    last_end: float | None = None
    error_examples: dict[str, int] = {}


@dataclass
class _UserWindow:
    first_planned: float
    schedule_s: float  # planned operations x interval
    ok: int = 0
    last_ok_end: float = 0.0


class StepTally:
    """Counts of the users of one process. Times are Unix seconds."""

    def __init__(self, duration_s: float, late_tolerance_s: float) -> None:
        self.duration_s = duration_s
        self.late_tolerance_s = late_tolerance_s
        self.sent = self.ok = self.errors = self.late = self.late_generator = 0
        self.latencies_ms: list[float] = []
        self.service_ms: list[float] = []
        self.errors_by_kind: Counter[str] = Counter()
        self._users: dict[str, _UserWindow] = {}
        self.last_end: float | None = None

    def begin(self, user: str, first_planned: float, planned: int, interval_s: float) -> None:
        """A user's schedule: `planned` operations, one every `interval_s` from
        `first_planned`."""
        self._users[user] = _UserWindow(first_planned, planned * interval_s)

    def operation(
        self,
        user: str,
        intended: float,
        start: float,
        end: float,
        ok: bool,
        busy: bool,
        error: str | None = None,
    ) -> None:
        """`busy`: the user was still waiting for its previous answer at `intended`."""
        self.sent += 1
        if start - intended > self.late_tolerance_s:
            self.late += 1
            if not busy:
                self.late_generator += 1
        self.last_end = end if self.last_end is None else max(self.last_end, end)
        if ok:
            self.ok += 1
            self.latencies_ms.append((end - intended) * 1000.0)
            self.service_ms.append((end - start) * 1000.0)
            window = self._users.get(user)
            if window is not None:
                window.ok += 1
                window.last_ok_end = max(window.last_ok_end, end)
        else:
            self.errors += 1
            self._count_error(error or "error")

    def unsent(self, busy: bool) -> None:
        """Planned but still not sent when the drain ended: an error, and late."""
        self.sent += 1
        self.errors += 1
        self.late += 1
        if not busy:
            self.late_generator += 1
        self._count_error("not sent: backlog left when the step ended")

    def _count_error(self, message: str) -> None:
        if message in self.errors_by_kind or len(self.errors_by_kind) < MAX_ERROR_KINDS:
            self.errors_by_kind[message] += 1

    def achieved_rate(self) -> float:
        total = 0.0
        for window in self._users.values():
            if window.ok:
                span = window.last_ok_end - window.first_planned
                total += window.ok / max(window.schedule_s, span)
        return total

    def report(self, pid: int, loop_blocked_ms: float | None) -> ProcessReport:
        first = min((w.first_planned for w in self._users.values()), default=None)
        return ProcessReport(
            pid=pid,
            users=len(self._users),
            sent=self.sent,
            ok=self.ok,
            errors=self.errors,
            late=self.late,
            late_generator=self.late_generator,
            achieved_rate=self.achieved_rate(),
            latencies_ms=[round(v, 3) for v in self.latencies_ms],
            service_ms=[round(v, 3) for v in self.service_ms],
            loop_blocked_ms=loop_blocked_ms,
            first_planned=first,
            last_end=self.last_end,
            error_examples=dict(self.errors_by_kind),
        )


def write_report(report: ProcessReport, out_dir: Path) -> Path:
    """Atomically: the caller polls for these files and must never see half of one."""
    path = out_dir / f"proc-{report.pid}.json"
    tmp = out_dir / f".proc-{report.pid}.tmp"
    tmp.write_text(report.model_dump_json())
    tmp.replace(path)
    return path


def read_reports(out_dir: Path) -> list[ProcessReport]:
    return [ProcessReport.model_validate(json.loads(p.read_text()))
            for p in sorted(out_dir.glob(REPORT_GLOB))]  # fmt: skip


def merge_reports(
    reports: Sequence[ProcessReport],
    offered_rate: float,
    duration_s: float,
    generator_cpu: float = 0.0,
    machine_cpu: float | None = None,
) -> RawStep:
    examples: Counter[str] = Counter()
    for r in reports:
        examples.update(r.error_examples)
    blocked = [r.loop_blocked_ms for r in reports if r.loop_blocked_ms is not None]
    starts = [r.first_planned for r in reports if r.first_planned is not None]
    ends = [r.last_end for r in reports if r.last_end is not None]
    return RawStep(
        offered_rate=offered_rate,
        duration_s=duration_s,
        sent=sum(r.sent for r in reports),
        ok=sum(r.ok for r in reports),
        errors=sum(r.errors for r in reports),
        late=sum(r.late for r in reports),
        late_generator=sum(r.late_generator for r in reports),
        achieved_rate=sum(r.achieved_rate for r in reports),
        latencies_ms=[v for r in reports for v in r.latencies_ms],
        service_ms=[v for r in reports for v in r.service_ms],
        generator_cpu=generator_cpu,
        machine_cpu=machine_cpu,
        loop_blocked_ms=max(blocked) if blocked else None,
        started=min(starts, default=0.0),
        ended=max(ends, default=0.0),
        error_examples=dict(examples.most_common(MAX_ERROR_KINDS)),
    )


def tally_event_ops(
    ops: Iterable[EventOp],
    duration_s: float,
    late_tolerance_s: float,
    rate_per_producer: float,
    waits_for_answers: bool = False,
) -> StepTally:
    """The produce operations of an event workload, counted like Locust users' operations,
    each producer one user. The event workload's producers send asynchronously (they never
    wait for an answer before the next send), so all their late sends are the generator's;
    with `waits_for_answers` a late send is the system's when the previous answer came after
    its planned time."""
    tally = StepTally(duration_s, late_tolerance_s)
    by_producer: dict[str, list[EventOp]] = {}
    for op in ops:
        if op.op == "produce":
            by_producer.setdefault(op.worker, []).append(op)
    for worker, produced in by_producer.items():
        produced.sort(key=lambda op: op.intended)
        tally.begin(worker, produced[0].intended, len(produced), 1.0 / rate_per_producer)
        previous_end = float("-inf")
        for op in produced:
            busy = waits_for_answers and previous_end > op.intended
            if op.outcome != "ok" and (op.error or "").startswith("not sent"):
                tally.unsent(busy)
                continue
            ok = op.outcome == "ok"
            tally.operation(worker, op.intended, op.start, op.end, ok, busy, op.error)
            previous_end = op.end
    return tally
