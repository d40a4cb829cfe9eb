"""Scenarios built from command-line flags (`gracectl chaos kill-primary` and friends)."""

from __future__ import annotations

from typing import Any

from gracectl.scenario import Scenario, parse_scenario

SAFETY_INVARIANTS = [
    {"name": "lost_acked_writes", "max": 0},
    {"name": "unexpected_writes", "max": 0},
    {"name": "duplicate_writes", "max": 0},
]


def _load(duration_s: float, users: int, rate: float) -> dict[str, Any]:
    writers = max(1, users * 2 // 3) if users > 1 else 1
    readers = max(0, users - writers)
    return {
        "writers": writers,
        "readers": readers,
        "write_rate": rate * writers / max(users, 1),
        "read_rate": rate * readers / max(users, 1) if readers else 0,
        "duration_s": duration_s,
    }


def kill_primary(
    duration_s: float,
    users: int,
    rate: float,
    postmaster_only: bool,
    fault_at_s: float,
    max_rto_s: float,
    mode: str | None,
) -> Scenario:
    fault = "postgres.kill_leader_postmaster" if postmaster_only else "postgres.kill_leader"
    return parse_scenario(
        {
            "name": "kill-primary",
            "description": f"{fault} under load (from the command line)",
            "replication_mode": mode,
            "load": _load(duration_s, users, rate),
            "faults": [{"fault": fault, "at_s": fault_at_s}],
            "observe_s": max(0.0, min(10.0, duration_s - fault_at_s - 1)),
            "invariants": [*SAFETY_INVARIANTS, {"name": "rto_s", "max": max_rto_s}],
        },
        "command line",
    )


def kill_node(
    node: str, duration_s: float, users: int, rate: float, fault_at_s: float, mode: str | None
) -> Scenario:
    return parse_scenario(
        {
            "name": "kill-node",
            "description": f"node.kill {node} under load (from the command line)",
            "replication_mode": mode,
            "load": _load(duration_s, users, rate),
            "faults": [{"fault": "node.kill", "target": node, "at_s": fault_at_s}],
            "observe_s": max(0.0, min(10.0, duration_s - fault_at_s - 1)),
            "invariants": SAFETY_INVARIANTS,
        },
        "command line",
    )


def pause_node(
    node: str,
    pause_s: float,
    duration_s: float,
    users: int,
    rate: float,
    fault_at_s: float,
    mode: str | None,
) -> Scenario:
    return parse_scenario(
        {
            "name": "pause-node",
            "description": f"node.pause {node} for {pause_s:g} s under load (command line)",
            "replication_mode": mode,
            "load": {**_load(duration_s, users, rate), "op_timeout_s": max(2.0, pause_s + 2)},
            "faults": [
                {"fault": "node.pause", "target": node, "at_s": fault_at_s, "duration_s": pause_s}
            ],
            "observe_s": max(0.0, min(10.0, duration_s - fault_at_s - pause_s - 1)),
            "invariants": SAFETY_INVARIANTS,
        },
        "command line",
    )
