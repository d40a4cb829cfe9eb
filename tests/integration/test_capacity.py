"""`gracectl capacity` for real, kept short: postgres-write and redis on a dev stack (steps of
3 s at low rates, native tools beside them), and the http component against a tiny HTTP
server this test starts on a loopback port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from gracectl.capacity.model import CapacityJournal, ComponentCapacity
from gracectl.waiting import wait_until
from tests.conftest import Sandbox

pytestmark = pytest.mark.integration

#: Ports for the test's own HTTP server (below the stack's, inside this suite's range).
HTTP_PORTS = range(int(os.environ.get("GRACECTL_TEST_HTTP_PORT_BASE", "14900")), 15000)

SERVER = textwrap.dedent(
    """
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Ok(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a Grace endpoint would
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def do_GET(self):
            body = b"ok"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Ok).serve_forever()
    """
)


def _journal(stdout: str, sandbox: Sandbox) -> CapacityJournal:
    journal = CapacityJournal.model_validate(json.loads(stdout))
    written = list((sandbox.home / "runs").glob("capacity-*/journal.json"))
    assert len(written) == 1
    assert CapacityJournal.read(written[0]) == journal
    return journal


def _check_steps(result: ComponentCapacity, growth: float = 2.0) -> None:
    """Each step's figures are coherent, and the rates grow by the plan's factor until the
    first step that was not sustained."""
    assert result.steps, result
    for step in result.steps:
        assert step.sent > 0 and step.ok > 0 and step.achieved_rate > 0
        assert step.p50_ms is not None and step.p99_ms is not None
        assert step.p50_ms <= step.p99_ms <= (step.p999_ms or 0.0)
        assert 0 <= step.late_generator <= step.late <= step.sent
        assert step.started < step.ended
        assert step.sustained == (not step.note), step
    growing = []
    for step in result.steps:
        growing.append(step.offered_rate)
        if not step.sustained:
            break
    assert growing == [growing[0] * growth**i for i in range(len(growing))]


def test_capacity_of_postgres_writes_and_redis(sandbox: Sandbox) -> None:
    up = sandbox.run("up", "--profile", "dev")
    assert up.code == 0, up
    result = sandbox.run(
        "capacity", "-c", "postgres-write", "-c", "redis", "--step-seconds", "3",
        "--max-steps", "3", "--start-rate", "50", "--json", timeout=600,
    )  # fmt: skip
    assert result.code in (0, 3), result
    journal = _journal(result.stdout, sandbox)
    assert journal.profile == "dev" and journal.end is not None
    assert [r.component for r in journal.results] == ["postgres-write", "redis"]
    for capacity in journal.results:
        _check_steps(capacity)
        assert len(capacity.steps) <= 3
        assert capacity.unit in ("writes/s", "ops/s")
        assert "@" not in capacity.target  # no credentials in the journal
        if capacity.status == "inconclusive":
            assert capacity.reason
        assert capacity.native is not None, capacity.native_error
        assert capacity.native.throughput > 0
        if capacity.max_sustainable_rate is not None:
            assert capacity.ratio_to_native == pytest.approx(
                capacity.max_sustainable_rate / capacity.native.throughput
            )
    assert journal.results[0].native.tool == "pgbench"  # type: ignore[union-attr]
    assert journal.results[1].native.tool == "redis-benchmark"  # type: ignore[union-attr]


def _free_port() -> int:
    for port in HTTP_PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {HTTP_PORTS}")


@pytest.fixture
def http_server() -> Iterator[str]:
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stderr=subprocess.DEVNULL)
    try:

        def listening() -> bool:
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        assert wait_until(listening, 10), "the test HTTP server did not start"
        yield f"http://127.0.0.1:{port}/health"
    finally:
        server.kill()
        server.wait(timeout=10)


def test_capacity_of_an_http_target(sandbox: Sandbox, http_server: str, tmp_path: Path) -> None:
    result = sandbox.run(
        "capacity", "-c", "http", "--target", http_server, "--step-seconds", "3",
        "--max-steps", "2", "--start-rate", "100", "--json", timeout=300,
    )  # fmt: skip
    assert result.code in (0, 3), result
    journal = _journal(result.stdout, sandbox)
    (http,) = journal.results
    assert http.component == "http" and http.target == http_server
    _check_steps(http)
    assert http.steps[0].errors == 0
    assert http.native is None and "no native tool" in http.native_error
    if http.status == "inconclusive":
        assert "never saturated" in http.reason or "generator saturated" in http.reason
