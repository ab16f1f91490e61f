"""DBOSClient.enqueue_in_transaction and send_in_transaction on the caller's own transaction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from client_support import ClientFactory
from sqlalchemy.orm import Session

from dbos import DBOS, DBOSConfig, EnqueueOptions, Queue, SendMessage
from dbos.error import DBOSException, DBOSNonExistentWorkflowError, DBOSQueueDeduplicatedError

OPTIONS: EnqueueOptions = {"workflow_name": "listener", "queue_name": "in-transaction"}


@pytest.fixture
def launched(config: DBOSConfig, clean_dbos: None) -> Iterator[None]:
    Queue("in-transaction", polling_interval_sec=0.05)

    @DBOS.workflow(name="listener")
    def listener(prefix: str) -> str:
        return f"{prefix} {DBOS.recv('topic', timeout_seconds=30)}"

    DBOS(config=config)
    DBOS.launch()
    yield


@pytest.fixture
def engine(system_database_url: str) -> Iterator[sa.Engine]:
    """The caller's own SQLAlchemy engine on the system database."""
    url = system_database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


def test_a_workflow_and_its_message_commit_with_the_callers_transaction(
    launched: None, make_client: ClientFactory, engine: sa.Engine
) -> None:
    client = make_client()
    with engine.begin() as conn:
        handle = client.enqueue_in_transaction(conn, {**OPTIONS, "workflow_id": "tx"}, "got")
        client.send_in_transaction(conn, "tx", "hello", "topic")  # enqueued just above
        assert DBOS.get_workflow_status("tx") is None  # not committed yet
    assert handle.get_result(polling_interval_sec=0.05) == "got hello"


def test_a_rolled_back_transaction_leaves_nothing(
    launched: None, make_client: ClientFactory, engine: sa.Engine
) -> None:
    client = make_client()
    with engine.connect() as conn:
        client.enqueue_in_transaction(conn, {**OPTIONS, "workflow_id": "undone"}, "x")
        conn.rollback()
    assert DBOS.get_workflow_status("undone") is None
    assert client.list_workflows(workflow_ids=["undone"]) == []


def test_a_session_works_and_enqueueing_an_id_again_is_idempotent(
    launched: None, make_client: ClientFactory, engine: sa.Engine
) -> None:
    client = make_client()
    for _ in range(2):
        with Session(engine) as session:
            handle = client.enqueue_in_transaction(
                session, {**OPTIONS, "workflow_id": "by-session"}, "via"
            )
            client.send_bulk_in_transaction(
                session, [SendMessage("by-session", "session", "topic", "key-1")]
            )
            session.commit()
    assert handle.get_result(polling_interval_sec=0.05) == "via session"
    with engine.begin() as conn, pytest.raises(DBOSException, match="different function name"):
        client.enqueue_in_transaction(
            conn, {**OPTIONS, "workflow_name": "other", "workflow_id": "by-session"}
        )


def test_in_transaction_calls_refuse_bad_input(
    launched: None, make_client: ClientFactory, engine: sa.Engine, tmp_path: object
) -> None:
    client = make_client()
    with engine.begin() as conn:
        with pytest.raises(DBOSNonExistentWorkflowError, match="nobody"):
            client.send_in_transaction(conn, "nobody", "lost", "topic")
        with pytest.raises(DBOSException, match="return-existing"):
            client.enqueue_in_transaction(
                conn,
                {**OPTIONS, "deduplication_id": "d", "duplication_policy": "return-existing"},
            )
    with pytest.raises(TypeError, match="SQLAlchemy Connection or Session"):
        client.enqueue_in_transaction("not a connection", OPTIONS)
    if engine.dialect.name == "postgresql":  # a connection to another kind of database
        other = sa.create_engine(f"sqlite:///{tmp_path}/elsewhere.sqlite")
        with other.connect() as conn, pytest.raises(TypeError, match="system database is"):
            client.enqueue_in_transaction(conn, OPTIONS)
        other.dispose()


def test_a_taken_deduplication_id_is_refused(
    launched: None, make_client: ClientFactory, engine: sa.Engine
) -> None:
    client = make_client()
    deduplicated: EnqueueOptions = {**OPTIONS, "deduplication_id": "once"}
    client.enqueue(deduplicated, "first")
    with engine.connect() as conn:
        with pytest.raises(DBOSQueueDeduplicatedError):
            client.enqueue_in_transaction(conn, deduplicated, "second")
        conn.rollback()
    assert len(client.list_workflows(queue_name="in-transaction")) == 1
