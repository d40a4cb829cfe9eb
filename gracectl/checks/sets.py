"""The write-set checker (Jepsen's `set`): what was acknowledged against what was read back.

Vocabulary, over the `write` operations of a history and the final read:
attempted = ids of every write, whatever its outcome; acked = ids of `ok` writes;
lost = acked - final read; unexpected = final read - attempted;
indeterminate = ids of `info` writes that were never acked (a timeout is not a failure);
recovered = final read & indeterminate (they did land).
One pass over the history; memory is a few sets of ids, never the operations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from gracectl.history import FinalRead, Operation


class WriteSetReport(BaseModel):
    """Everything the set checker found; the `*_ids` sets are what a report should list."""

    model_config = ConfigDict(frozen=True)

    replicas_read: tuple[str, ...]  # replicas the final read covered (sorted)
    attempted_ids: frozenset[int]
    acked_ids: frozenset[int]
    lost_acked_ids: frozenset[int]
    # replica name -> acked ids missing on that replica (only replicas missing something)
    lost_acked_ids_by_replica: dict[str, frozenset[int]]
    unexpected_ids: frozenset[int]
    indeterminate_ids: frozenset[int]
    recovered_indeterminate_ids: frozenset[int]
    # `fail` means "definitely did not happen": one that landed anyway is a lying client/server
    failed_but_present_ids: frozenset[int]
    # id -> number of `ok` writes of it in the history (> 1 only)
    duplicate_acked_ids: dict[int, int]
    # id -> times the final read on the leader saw it (> 1 only)
    duplicate_read_ids: dict[int, int]

    @property
    def unrecovered_indeterminate_count(self) -> int:
        """`info` writes absent from the final read: fine (they may never have applied)."""
        return len(self.indeterminate_ids - self.recovered_indeterminate_ids)

    @property
    def duplicate_ids(self) -> frozenset[int]:
        """Ids duplicated either way: acked twice, or present twice in the final read."""
        return frozenset(self.duplicate_acked_ids) | frozenset(self.duplicate_read_ids)


def check_write_set(operations: Iterable[Operation], final_read: FinalRead) -> WriteSetReport:
    """Compare the writes of a history with the final read (reads and id-less ops ignored).

    `unexpected_ids` looks at the leader and every replica: an id no client ever sent is a
    violation wherever it shows up.
    """
    attempted: set[int] = set()
    ok_counts: Counter[int] = Counter()
    info_ids: set[int] = set()
    fail_ids: set[int] = set()
    for operation in operations:
        if operation.op != "write" or operation.value is None:
            continue
        attempted.add(operation.value)
        if operation.outcome == "ok":
            ok_counts[operation.value] += 1
        elif operation.outcome == "info":
            info_ids.add(operation.value)
        else:
            fail_ids.add(operation.value)

    acked = frozenset(ok_counts)
    leader_ids = final_read.leader_ids
    lost_by_replica = {
        replica: frozenset(acked - ids)
        for replica, ids in sorted(final_read.replica_ids.items())
        if acked - ids
    }
    everything_read = leader_ids.union(*final_read.replica_ids.values())
    indeterminate = frozenset(info_ids - acked)
    return WriteSetReport(
        replicas_read=tuple(sorted(final_read.replica_ids)),
        attempted_ids=frozenset(attempted),
        acked_ids=acked,
        lost_acked_ids=acked - leader_ids,
        lost_acked_ids_by_replica=lost_by_replica,
        unexpected_ids=everything_read - attempted,
        indeterminate_ids=indeterminate,
        recovered_indeterminate_ids=indeterminate & leader_ids,
        failed_but_present_ids=frozenset(fail_ids - acked - info_ids) & leader_ids,
        duplicate_acked_ids={id_: n for id_, n in sorted(ok_counts.items()) if n > 1},
        duplicate_read_ids={
            id_: n for id_, n in sorted(final_read.leader_duplicates.items()) if n > 1
        },
    )
