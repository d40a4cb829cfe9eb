"""open_bus: the EventBus of a running stack, chosen by the `bus` setting, from gracectl's
settings (the stack under GRACECTL_HOME) or from its connection environment (`gracectl env`:
GRACE_KAFKA_BOOTSTRAP, GRACE_REDIS_SENTINELS, GRACE_REDIS_MASTER_NAME, GRACE_REDIS_PASSWORD).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import get_args

from gracectl import stack
from gracectl.bus.base import DEFAULT_TOPIC, EventBus
from gracectl.bus.kafka_bus import KafkaBus
from gracectl.bus.redis_streams import RedisStreamsBus
from gracectl.config import Settings
from gracectl.errors import ConfigError

BUS_KINDS: tuple[str, ...] = get_args(Settings.model_fields["bus"].annotation)
ENV_HINT = 'set them with eval "$(gracectl env)" against a running stack'


def bus_kind(env: Mapping[str, str]) -> str:
    """GRACE_BUS or GRACECTL_BUS if set; else Kafka when the environment names brokers (a
    stack has Kafka nodes only with bus = kafka), else Redis Streams."""
    kind = env.get("GRACE_BUS") or env.get("GRACECTL_BUS")
    if kind is None:
        kind = "kafka" if env.get("GRACE_KAFKA_BOOTSTRAP") else "redis-streams"
    if kind not in BUS_KINDS:
        raise ConfigError(f"unknown bus {kind!r}", hint=f"choose one of: {', '.join(BUS_KINDS)}")
    return kind


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise ConfigError(f"{name} is not set", hint=ENV_HINT)
    return value


def parse_endpoints(text: str) -> list[tuple[str, int]]:
    """ "127.0.0.1:26379,127.0.0.1:26380" -> [("127.0.0.1", 26379), ("127.0.0.1", 26380)]."""
    result = []
    for item in text.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"GRACE_REDIS_SENTINELS: bad endpoint {item!r}", hint=ENV_HINT)
        result.append((host, int(port)))
    return result


def open_bus(
    source: Settings | Mapping[str, str],
    *,
    topic: str = DEFAULT_TOPIC,
    enable_idempotence: bool = True,
) -> EventBus:
    """The stack's bus. From Settings, the running stack's own settings decide the kind and
    Kafka's replication factor and min.insync.replicas (StackNotRunning if there is none);
    from an environment mapping, new Kafka topics get the brokers' defaults, which gracectl
    sets to the same values."""
    replication_factor: int | None = None
    min_insync_replicas: int | None = None
    if isinstance(source, Settings):
        settings = stack.settings_of_running_stack(source)
        env: Mapping[str, str] = stack.connection_env(settings)
        kind: str = settings.bus
        replication_factor = settings.kafka.replication_factor
        min_insync_replicas = settings.kafka.min_insync_replicas
    else:
        env = source
        kind = bus_kind(env)
    if kind == "kafka":
        return KafkaBus(
            _required(env, "GRACE_KAFKA_BOOTSTRAP"),
            topic=topic,
            replication_factor=replication_factor,
            min_insync_replicas=min_insync_replicas,
            enable_idempotence=enable_idempotence,
        )
    return RedisStreamsBus(
        parse_endpoints(_required(env, "GRACE_REDIS_SENTINELS")),
        _required(env, "GRACE_REDIS_MASTER_NAME"),
        env.get("GRACE_REDIS_PASSWORD") or None,
        topic=topic,
    )
