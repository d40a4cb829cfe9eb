"""Bad input: one clear line with a hint, exit 2, never a traceback (real CLI, subprocess)."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import CliResult, Sandbox

pytestmark = pytest.mark.unit


def assert_clean_usage_error(result: CliResult, *needles: str) -> None:
    assert result.code == 2, result
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error: "), result.stderr
    assert any(line.startswith("hint: ") for line in lines), result.stderr
    for needle in needles:
        assert needle in result.stderr


def test_version_and_help(sandbox: Sandbox) -> None:
    assert sandbox.run("--version").stdout.startswith("gracectl ")
    for command in ("up", "down", "status", "env", "config"):
        result = sandbox.run(command, "--help")
        assert result.code == 0, result
        assert "Usage" in result.stdout


def test_unknown_profile(sandbox: Sandbox) -> None:
    assert_clean_usage_error(sandbox.run("up", "--profile", "prod"), "unknown profile 'prod'")


def test_malformed_toml(sandbox: Sandbox) -> None:
    (sandbox.cwd / "gracectl.toml").write_text("[postgres\n")
    assert_clean_usage_error(sandbox.run("config", "show"), "gracectl.toml", "malformed TOML")


def test_invalid_value(sandbox: Sandbox) -> None:
    (sandbox.cwd / "gracectl.toml").write_text("[redis]\nsentinels = 0\n")
    assert_clean_usage_error(sandbox.run("up"), "redis.sentinels")


def test_missing_binary(sandbox: Sandbox) -> None:
    result = sandbox.run("up", "--profile", "dev", GRACECTL_POSTGRES__BIN_DIR="/nonexistent/pg/bin")
    assert_clean_usage_error(result, "/nonexistent/pg/bin/postgres", "setup.sh")


def test_unwritable_state_dir(sandbox: Sandbox) -> None:
    result = sandbox.run("up", "--profile", "dev", GRACECTL_HOME="/proc/gracectl-home")
    assert_clean_usage_error(result, "/proc/gracectl-home", "not writable")


def test_taken_port(sandbox: Sandbox) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", sandbox.base_port))
        holder.listen()
        result = sandbox.run("up", "--profile", "dev")
    assert_clean_usage_error(result, f"port {sandbox.base_port} (etcd-0 client)")


def test_bad_flag_is_a_usage_error(sandbox: Sandbox) -> None:
    result = sandbox.run("down", "--no-such-flag")
    assert result.code == 2
    assert "Traceback" not in result.stderr


def test_status_without_stack(sandbox: Sandbox) -> None:
    result = sandbox.run("status")
    assert result.code == 3
    assert "no gracectl stack" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_show_reports_effective_values(sandbox: Sandbox) -> None:
    result = sandbox.run(
        "config",
        "show",
        "--profile",
        "dev",
        "--ports",
        GRACECTL_POSTGRES__REPLICATION_MODE="asynchronous",
    )
    assert result.code == 0, result
    assert '"replication_mode": "asynchronous"' in result.stdout
    assert f'"client": {sandbox.base_port}' in result.stdout
