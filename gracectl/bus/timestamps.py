"""Points in time as a user types them (ISO-8601 or Unix milliseconds) -> Unix ms."""

from __future__ import annotations

from datetime import UTC, datetime

from gracectl.errors import ConfigError

#: Unix ms below this (1973-03-03) are almost surely seconds typed by mistake.
SMALLEST_PLAUSIBLE_MS = 100_000_000_000
HINT = "give ISO-8601 (2026-11-27T09:30:00Z; no zone means UTC) or Unix milliseconds"


def parse_timestamp_ms(text: str, what: str = "timestamp") -> int:
    """ "1764235800000" or "2026-11-27T09:30:00+01:00" -> Unix ms; naive ISO times are UTC.
    Raises ConfigError (exit 2) with a hint for anything else."""
    raw = text.strip()
    if raw.isdigit():
        value = int(raw)
        if value < SMALLEST_PLAUSIBLE_MS:
            raise ConfigError(
                f"{what} {text!r} looks like Unix seconds, not milliseconds",
                hint=f"multiply by 1000 ({value * 1000}), or {HINT}",
            )
        return value
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{what} {text!r} is not a point in time", hint=HINT) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def format_ms(ms: int) -> str:
    """Unix ms -> ISO-8601 UTC with milliseconds: 2026-11-27T09:30:00.123Z."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
