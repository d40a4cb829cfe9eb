"""When a measured number is too thin to judge on: the knobs, and the late-generator rule
shared by database and event-bus verdicts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CheckPolicy(BaseModel):
    """When a measured number is too thin to judge on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_ops_in_window: int = Field(default=10, ge=0)
    max_late_fraction: float = Field(default=0.05, ge=0, le=1)


def late_reason(late_fraction: float | None, policy: CheckPolicy) -> str | None:
    """Why timing-dependent numbers cannot be trusted, or None when the generator kept up."""
    if late_fraction is not None and late_fraction > policy.max_late_fraction:
        return (
            "load generator could not keep the offered rate "
            f"({late_fraction:.1%} late > {policy.max_late_fraction:.1%})"
        )
    return None
