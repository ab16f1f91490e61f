"""Every difference between SQLite and Postgres that the stores need, named in one place.

Queries are written once, with ``?`` placeholders and ``{s}`` before each table name;
``Dialect.sql`` turns them into the backend's text once, at store construction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Longer lists go to SQLite as one JSON parameter; it allows 32,766 parameters per statement.
_SQLITE_INLINE_VALUES = 512

# Postgres channels: one for enqueues, and one per kind of thing a waiter waits for. A keyed
# notice's payload is "<workflow id>::<topic or key>".
QUEUE_CHANNEL = "dbos_queue_channel"
MESSAGES_CHANNEL = "dbos_notifications_channel"
EVENTS_CHANNEL = "dbos_workflow_events_channel"
STREAMS_CHANNEL = "dbos_streams_channel"
# The channels a write announces on only while some process listens (migration 9); every
# process listens on the queue channel.
ON_DEMAND_CHANNELS = frozenset({MESSAGES_CHANNEL, EVENTS_CHANNEL, STREAMS_CHANNEL})
# Postgres refuses payloads of 8000 bytes or more; a longer key is sent as an empty payload,
# which wakes every waiter of its kind.
_MAX_PAYLOAD = 7900


@dataclass(frozen=True)
class Dialect:
    name: str
    # Prefix put before table names: '"dbos".' on Postgres, nothing on SQLite.
    table_prefix: str
    # Postgres drivers use %s; SQLite uses ?.
    placeholder: str
    # Row locks for claims; SQLite serialises writers, so it needs none.
    skip_locked: str
    # Serialises claimers of one queue for a transaction, so a shared budget (global
    # concurrency) is counted and spent atomically. SQLite's BEGIN IMMEDIATE already does.
    queue_lock: str = ""
    # A column that orders a table's rows by insertion, to break ties between rows written in
    # the same millisecond (messages are received oldest first). SQLite tables have rowid.
    insertion_order: str = "rowid"
    # Locks a row read inside a transaction until it commits (read-modify-write); SQLite's
    # BEGIN IMMEDIATE already excludes other writers.
    lock_row: str = ""
    # JSON containment (``@>``) on the attributes column: Postgres JSONB only.
    json_containment: bool = False
    # How a LIMIT clause says "no limit", for an OFFSET without a LIMIT.
    no_limit: str = "-1"
    # One write transaction at a time, database-wide (SQLite): long ones stall every writer.
    serialized_writes: bool = True
    # SQLite uses a partial index only when the query repeats the index's WHERE term for term;
    # Postgres proves the implication itself (and a repeated term would skew its estimates).
    repeats_index_predicates: bool = True
    # Wakes idle queue runners in every process (empty: the database cannot).
    announce_queue: str = ""
    # A parameter that also asks the row trigger not to notify for this statement (see
    # migration 0005): the enqueue's notice comes later. Just the parameter on SQLite.
    quiet_parameter: str = "?"
    # Writes of messages, events and stream values notify their channel themselves (a
    # pg_notify in the statement's RETURNING clause), which costs less than a trigger.
    notifies: bool = False
    # Notify whether or not anybody is registered (see notify): for statements that run in
    # a caller's transaction, which may be long or have an old snapshot.
    notifies_always: bool = False

    def sql(self, text: str) -> str:
        compiled = text.replace("{s}", self.table_prefix)
        if self.placeholder != "?":
            compiled = compiled.replace("%", "%%").replace("?", self.placeholder)
        return compiled

    def notify(self, channel: str, key: str) -> str:
        """A RETURNING clause that announces each row written on ``channel`` (or nothing).

        ``key`` is the SQL of the payload. The notice is part of the writing transaction, so
        no waiter is woken before the row is visible, and it is sent only while some process
        listens on the channel (see migration 9). Without ``notifies`` (SQLite), the writing
        process wakes its own waiters and other processes poll.
        """
        notice = self.notice(channel, key)
        return f"RETURNING {notice}" if notice else ""

    def notice(self, channel: str, key: str) -> str:
        """The expression behind ``notify``, for a RETURNING clause that returns more."""
        if not self.notifies:
            return ""
        payload = f"CASE WHEN octet_length({key}) < {_MAX_PAYLOAD} THEN {key} ELSE '' END"
        if self.notifies_always:
            return f"pg_notify('{channel}', {payload})"
        listened = (
            f"EXISTS (SELECT 1 FROM {self.table_prefix}listeners WHERE channel = '{channel}')"
        )
        return f"CASE WHEN {listened} THEN pg_notify('{channel}', {payload}) END"

    def member_of(self, column: str, values: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
        """``column`` is one of ``values``, as uncompiled SQL and its parameters.

        Postgres takes the list as one array parameter, so the statement's text does not
        depend on the list's length. SQLite has no arrays: a short list gets one placeholder
        per value, and a long one (past SQLite's limit on parameters) goes as a JSON array.
        """
        if self.name == "postgres":
            return f"{column} = ANY(?)", (list(values),)
        if len(values) > _SQLITE_INLINE_VALUES:
            return f"{column} IN (SELECT value FROM json_each(?))", (json.dumps(list(values)),)
        return f"{column} IN ({', '.join('?' * len(values))})", tuple(values)


def sqlite_dialect() -> Dialect:
    return Dialect("sqlite", "", "?", skip_locked="")


def postgres_dialect(schema: str) -> Dialect:
    return Dialect(
        "postgres",
        f'"{schema}".',
        "%s",
        skip_locked="FOR UPDATE SKIP LOCKED",
        queue_lock="SELECT pg_advisory_xact_lock(hashtext(%s))",
        insertion_order="seq",
        lock_row="FOR UPDATE",
        json_containment=True,
        no_limit="ALL",
        serialized_writes=False,
        repeats_index_predicates=False,
        announce_queue=f"SELECT pg_notify('{QUEUE_CHANNEL}', %s)",
        quiet_parameter=(
            "(SELECT CAST(%s AS TEXT) FROM "
            "(SELECT set_config('dbos.quiet_enqueue', 'on', true)) AS quiet)"
        ),
        notifies=True,
    )
