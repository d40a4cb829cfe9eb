"""Typed configuration: profiles, `gracectl.toml`, `GRACECTL_*` environment overrides.

Precedence, lowest first: the profile's defaults, `gracectl.toml` in the working directory
(or the file named by GRACECTL_CONFIG), then environment variables. Nested keys use a double
underscore: GRACECTL_POSTGRES__REPLICAS=2.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gracectl.errors import ConfigError

ProfileName = Literal["ha", "dev"]
PROFILES: tuple[str, ...] = ("ha", "dev")
ENV_PREFIX = "GRACECTL_"
# Variables with this prefix that are not configuration keys.
_ENV_NOT_CONFIG = {"CONFIG", "TIMEOUT_MULTIPLIER", "VENV", "PATRONI_VENV"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EtcdConfig(_Strict):
    members: int = Field(3, ge=1, le=7)
    heartbeat_interval_ms: int = Field(100, ge=10)
    election_timeout_ms: int = Field(1000, ge=50)


class PatroniConfig(_Strict):
    # Patroni's floor for ttl is 20 and it requires loop_wait + 2 * retry_timeout <= ttl.
    ttl: int = Field(20, ge=20)
    loop_wait: int = Field(1, ge=1)
    retry_timeout: int = Field(5, ge=3)
    # 0: a crashed primary is failed over instead of restarted in place.
    primary_start_timeout: int = Field(0, ge=0)
    maximum_lag_on_failover: int = Field(1_048_576, ge=0)

    @model_validator(mode="after")
    def _timings_fit_ttl(self) -> PatroniConfig:
        if self.loop_wait + 2 * self.retry_timeout > self.ttl:
            raise ValueError(
                f"loop_wait + 2*retry_timeout = {self.loop_wait + 2 * self.retry_timeout} "
                f"exceeds ttl = {self.ttl} (Patroni's rule)"
            )
        return self


class PostgresConfig(_Strict):
    replicas: int = Field(3, ge=0, le=8)
    replication_mode: Literal["synchronous", "asynchronous"] = "synchronous"
    database: str = Field("grace", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    app_user: str = Field("grace", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    bin_dir: Path = Path("/usr/lib/postgresql/15/bin")
    patroni_bin: Path | None = None
    scope: str = Field("grace", pattern=r"^[a-z0-9-]{1,40}$")
    patroni: PatroniConfig = PatroniConfig()


class RedisConfig(_Strict):
    replicas: int = Field(2, ge=0, le=8)
    sentinels: int = Field(3, ge=1, le=7)
    master_name: str = Field("grace", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    down_after_ms: int = Field(2000, ge=100)
    failover_timeout_ms: int = Field(10_000, ge=1000)
    appendonly: bool = True

    @property
    def quorum(self) -> int:
        return self.sentinels // 2 + 1


class HAProxyConfig(_Strict):
    check_interval_ms: int = Field(1000, ge=100)
    fall: int = Field(2, ge=1)
    rise: int = Field(1, ge=1)


class KafkaConfig(_Strict):
    """The Kafka event bus (only when `bus = "kafka"`): combined broker+controller KRaft nodes."""

    brokers: int = Field(3, ge=1, le=7)
    heap_mb: int = Field(256, ge=128, le=4096)
    min_insync_replicas: int = Field(2, ge=1)
    # Where scripts/setup.sh put the jars; None: its default for this user (see components/kafka).
    libs_dir: Path | None = None

    @property
    def replication_factor(self) -> int:
        """Default for new topics and for Kafka's internal topics."""
        return min(3, self.brokers)

    @model_validator(mode="after")
    def _isr_fits_replication(self) -> KafkaConfig:
        # A min ISR above the replication factor would refuse every acks=all write.
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"min_insync_replicas = {self.min_insync_replicas} exceeds the replication "
                f"factor {self.replication_factor} of {self.brokers} broker(s)"
            )
        return self


class Settings(_Strict):
    profile: ProfileName = "ha"
    home: Path = Path(".gracectl")
    base_port: int = Field(17000, ge=1024, le=65000)
    # Service user when gracectl runs as root (PostgreSQL refuses to run as root).
    run_as: str = "gracectl"
    bus: Literal["redis-streams", "kafka"] = "redis-streams"
    startup_timeout_s: float = Field(120.0, gt=0)
    etcd: EtcdConfig = EtcdConfig()
    postgres: PostgresConfig = PostgresConfig()
    redis: RedisConfig = RedisConfig()
    haproxy: HAProxyConfig = HAProxyConfig()
    kafka: KafkaConfig = KafkaConfig()

    @property
    def home_path(self) -> Path:
        return self.home.expanduser().absolute()


PROFILE_DEFAULTS: dict[str, dict[str, Any]] = {
    # The Grace document's topology.
    "ha": {},
    # The smallest topology that still fails over.
    "dev": {
        "etcd": {"members": 1},
        "postgres": {"replicas": 1},
        "redis": {"replicas": 1, "sentinels": 1},
    },
}


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: malformed TOML: {exc}", hint="fix the syntax or remove the file"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}", hint="check the path") from exc


def env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """GRACECTL_BASE_PORT=18000 -> {"base_port": "18000"}; pydantic converts the types."""
    result: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :]
        if key in _ENV_NOT_CONFIG or not key:
            continue
        parts = [p.lower() for p in key.split("__")]
        target = result
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return result


def _format_validation_error(exc: ValidationError, source: str) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{source}: {field}: {first['msg']}{more}"


def load_settings(
    profile: str | None = None,
    cwd: Path | None = None,
    environ: dict[str, str] | None = None,
    fallback_profile: str | None = None,
) -> Settings:
    """Build the effective settings. `profile` (from a CLI flag) beats every other source;
    `fallback_profile` (the existing stack's) is used when no source names one."""
    environ = dict(os.environ) if environ is None else environ
    cwd = cwd or Path.cwd()
    config_path = Path(environ["GRACECTL_CONFIG"]) if "GRACECTL_CONFIG" in environ else None
    if config_path is None and (cwd / "gracectl.toml").is_file():
        config_path = cwd / "gracectl.toml"
    file_values = read_toml(config_path) if config_path else {}
    env_values = env_overrides(environ)

    chosen = profile or env_values.get("profile") or file_values.get("profile")
    chosen = chosen or fallback_profile or "ha"
    if chosen not in PROFILES:
        raise ConfigError(
            f"unknown profile {chosen!r}", hint=f"choose one of: {', '.join(PROFILES)}"
        )
    merged = _deep_merge(PROFILE_DEFAULTS[chosen], file_values)
    merged = _deep_merge(merged, env_values)
    merged["profile"] = chosen
    sources = (
        " + ".join(
            s
            for s in (str(config_path) if config_path else "", "environment" if env_values else "")
            if s
        )
        or f"profile {chosen}"
    )
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(
            _format_validation_error(exc, sources),
            hint="see `gracectl config show` for the valid keys and their defaults",
        ) from exc
    if "home" not in file_values and "home" not in env_values:
        settings = settings.model_copy(update={"home": default_home(cwd, os.geteuid() == 0)})
    elif not settings.home.is_absolute():
        settings = settings.model_copy(update={"home": (cwd / settings.home)})
    return settings


def _traversable_by_others(path: Path) -> bool:
    """Every directory from / down to `path` lets other users in (o+x)."""
    for directory in [path, *path.parents]:
        try:
            if not directory.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def default_home(cwd: Path, as_root: bool) -> Path:
    """`./.gracectl`, unless gracectl runs as root in a directory the unprivileged service
    user cannot reach (a checkout under /root): then a per-checkout directory under
    /var/lib/gracectl, so `gracectl up` works from any clone."""
    local = cwd / ".gracectl"
    if not as_root or _traversable_by_others(cwd):
        return local
    digest = hashlib.sha256(str(cwd).encode()).hexdigest()[:8]
    return Path("/var/lib/gracectl") / f"{cwd.name}-{digest}"
