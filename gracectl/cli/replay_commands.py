"""`gracectl replay`: the bus's events in a time range, for disaster recovery and audit."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, TextIO

import typer

from gracectl.bus import DEFAULT_TOPIC, Event, format_ms, open_bus, parse_timestamp_ms
from gracectl.cli.render import err_console
from gracectl.config import load_settings
from gracectl.errors import ConfigError

EXIT_HELP = "Exit codes: 0 replayed; 2 bad timestamp or flag; 3 no stack, or the bus failed."
TIMESTAMP_HELP = "ISO-8601 (no zone means UTC) or Unix milliseconds"


def _line(event: Event, as_json: bool) -> str:
    if as_json:
        return event.to_json()
    where = f"{event.topic}[{event.partition}]@{event.offset}"
    return f"{format_ms(event.timestamp_ms)} {where} {event.key}={event.value}"


def _write(events: Iterable[Event], sink: TextIO, as_json: bool) -> int:
    count = 0
    for event in events:
        sink.write(_line(event, as_json) + "\n")
        count += 1
    return count


def replay(
    from_: Annotated[
        str, typer.Option("--from", help=f"Start, inclusive: {TIMESTAMP_HELP}.", show_default=False)
    ],
    to: Annotated[
        str | None, typer.Option("--to", help=f"End, exclusive: {TIMESTAMP_HELP}.")
    ] = None,
    topic: Annotated[str, typer.Option("--topic", help="The topic to replay.")] = DEFAULT_TOPIC,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write JSON lines to this file instead.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Print the events of the stack's bus with a timestamp in [--from, --to), in log order
    per partition (partition after partition), up to the end of the log when it started."""
    from_ms = parse_timestamp_ms(from_, "--from")
    to_ms = None if to is None else parse_timestamp_ms(to, "--to")
    if to_ms is not None and to_ms <= from_ms:
        raise ConfigError(
            f"--to {to} is not after --from {from_}", hint="--to is exclusive: give a later time"
        )
    with open_bus(load_settings(), topic=topic) as bus:
        events = bus.replay(from_ms, to_ms, topic=topic)
        if out is None:
            count = _write(events, typer.get_text_stream("stdout"), as_json)
        else:
            try:
                with out.open("w") as sink:
                    count = _write(events, sink, True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot write {out}: {exc.strerror}", hint="check the path"
                ) from exc
            err_console.print(f"wrote {count} event(s) to {out}")
    if out is None and not as_json:
        err_console.print(f"{count} event(s)")
