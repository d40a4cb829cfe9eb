"""Dropping the replication links of a Redis master, asked of the live master."""

from __future__ import annotations

from typing import TYPE_CHECKING

import redis

from gracectl.errors import GracectlError
from gracectl.secrets_store import load as load_secrets

if TYPE_CHECKING:
    from gracectl.faults.actions import FaultContext
    from gracectl.status import ComponentStatus


def drop_replica_links(ctx: FaultContext, master: ComponentStatus) -> int:
    """`CLIENT KILL TYPE replica` on `master`: closes every replica's link; returns how many.

    A stopped replica cannot reconnect, so from then on what the master acknowledges stays
    in the master's own memory (its backlog) and nowhere else."""
    host, _, port = master.endpoint.rpartition(":")
    conn = redis.Redis(
        host=host,
        port=int(port),
        password=load_secrets(ctx.layout.secrets_file).redis,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
    )
    try:
        return conn.client_kill_filter(_type="replica")
    except redis.RedisError as exc:
        raise GracectlError(
            f"could not drop the replica links of {master.name}: {exc}",
            hint="`gracectl status` shows whether the Redis master is up",
        ) from exc
    finally:
        conn.close()
