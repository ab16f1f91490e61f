"""Fixtures for the client tests: clients on the test's system database, closed afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from client_support import ClientFactory

from dbos import DBOSClient, DBOSConfig


@pytest.fixture
def make_client(config: DBOSConfig) -> Iterator[ClientFactory]:
    """``make_client(**kwargs)``: a DBOSClient on the test's database, destroyed at the end."""
    made: list[DBOSClient] = []

    def make(**kwargs: object) -> DBOSClient:
        client = DBOSClient(
            system_database_url=config["system_database_url"],
            dbos_system_schema=config.get("dbos_system_schema", "dbos"),
            **kwargs,  # type: ignore[arg-type]
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.destroy()
