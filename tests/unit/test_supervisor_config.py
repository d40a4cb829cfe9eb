from __future__ import annotations

from pathlib import Path

import pytest

from gracectl.layout import Layout
from gracectl.supervisor import Program, render_config
from gracectl.waiting import wait_until

pytestmark = pytest.mark.unit


def test_programs_never_restart_on_their_own() -> None:
    layout = Layout(Path("/tmp/h"))
    text = render_config(
        layout,
        [
            Program(
                "pg-0", ["patroni", "/tmp/h/data/pg-0/patroni.yml"], Path("/tmp/h"), "gracectl", 20
            ),
            Program(
                "redis-0",
                ["redis-server", "a b.conf"],
                Path("/tmp/h"),
                None,
                40,
                environment={"PATH": "/usr/bin"},
            ),
        ],
    )
    assert "[program:pg-0]" in text
    assert text.count("autorestart=false") == 2
    assert "user=gracectl" in text
    assert 'command=redis-server "a b.conf"' in text
    assert 'environment=PATH="/usr/bin"' in text
    assert "stopasgroup=true" in text


def test_wait_until_returns_value_or_none_on_deadline() -> None:
    now = [0.0]

    def clock() -> float:
        return now[0]

    def sleep(s: float) -> None:
        now[0] += s

    calls = iter([None, None, "ready"])
    assert wait_until(lambda: next(calls), 10, 1, clock, sleep) == "ready"
    assert wait_until(lambda: None, 3, 1, clock, sleep) is None
