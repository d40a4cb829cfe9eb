from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from gracectl.config import default_home, load_settings
from gracectl.errors import ConfigError

pytestmark = pytest.mark.unit


def test_ha_is_the_default_and_matches_the_document(tmp_path: Path) -> None:
    s = load_settings(cwd=tmp_path, environ={})
    assert s.profile == "ha"
    assert (s.etcd.members, s.postgres.replicas, s.redis.replicas, s.redis.sentinels) == (
        3,
        3,
        2,
        3,
    )
    assert s.postgres.replication_mode == "synchronous"
    assert s.postgres.patroni.primary_start_timeout == 0
    assert s.redis.quorum == 2


def test_dev_profile_is_smallest_with_failover(tmp_path: Path) -> None:
    s = load_settings("dev", cwd=tmp_path, environ={})
    assert (s.etcd.members, s.postgres.replicas, s.redis.replicas, s.redis.sentinels) == (
        1,
        1,
        1,
        1,
    )


def test_toml_then_env_override_profile(tmp_path: Path) -> None:
    (tmp_path / "gracectl.toml").write_text(
        'profile = "dev"\nbase_port = 30000\n[postgres]\nreplicas = 2\n'
    )
    s = load_settings(cwd=tmp_path, environ={"GRACECTL_POSTGRES__REPLICAS": "3"})
    assert s.profile == "dev"
    assert s.base_port == 30000
    assert s.postgres.replicas == 3
    assert s.etcd.members == 1  # still the dev default


def test_cli_flag_beats_file_and_fallback(tmp_path: Path) -> None:
    (tmp_path / "gracectl.toml").write_text('profile = "dev"\n')
    assert load_settings("ha", cwd=tmp_path, environ={}).profile == "ha"
    assert load_settings(cwd=tmp_path, environ={}, fallback_profile="ha").profile == "dev"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert load_settings(cwd=empty, environ={}, fallback_profile="dev").profile == "dev"


def test_relative_home_is_resolved_against_cwd(tmp_path: Path) -> None:
    s = load_settings(cwd=tmp_path, environ={"GRACECTL_HOME": "state"})
    assert s.home == tmp_path / "state"


def test_default_home_is_local_unless_root_cannot_share_it(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    shared = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        shared.chmod(0o755)
        assert default_home(private, as_root=False) == private / ".gracectl"
        assert default_home(shared, as_root=True) == shared / ".gracectl"
        fallback = default_home(private, as_root=True)
        assert fallback.parent == Path("/var/lib/gracectl")
        assert fallback.name.startswith("private-")
        assert fallback == default_home(private, as_root=True)
    finally:
        shared.rmdir()


def test_unknown_profile(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown profile 'prod'") as info:
        load_settings("prod", cwd=tmp_path, environ={})
    assert "ha, dev" in info.value.hint


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "gracectl.toml").write_text("base_port = = 3\n")
    with pytest.raises(ConfigError, match=r"gracectl.toml: malformed TOML"):
        load_settings(cwd=tmp_path, environ={})


def test_unknown_key_and_bad_value_name_the_field(tmp_path: Path) -> None:
    (tmp_path / "gracectl.toml").write_text("[postgres]\nreplicaz = 2\n")
    with pytest.raises(ConfigError, match=r"postgres\.replicaz"):
        load_settings(cwd=tmp_path, environ={})
    with pytest.raises(ConfigError, match="base_port"):
        load_settings(cwd=tmp_path / "..", environ={"GRACECTL_BASE_PORT": "80"})


def test_patroni_timing_rule_is_enforced(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="exceeds ttl"):
        load_settings(
            cwd=tmp_path,
            environ={
                "GRACECTL_POSTGRES__PATRONI__RETRY_TIMEOUT": "10",
                "GRACECTL_POSTGRES__PATRONI__LOOP_WAIT": "5",
            },
        )
    with pytest.raises(ConfigError, match="ttl"):
        load_settings(cwd=tmp_path, environ={"GRACECTL_POSTGRES__PATRONI__TTL": "10"})


def test_explicit_config_path(tmp_path: Path) -> None:
    path = tmp_path / "other.toml"
    path.write_text("base_port = 31000\n")
    assert load_settings(cwd=tmp_path, environ={"GRACECTL_CONFIG": str(path)}).base_port == 31000
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(cwd=tmp_path, environ={"GRACECTL_CONFIG": str(tmp_path / "nope.toml")})
