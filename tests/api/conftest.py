"""Fixtures for the API behaviour tests."""

from __future__ import annotations

import pytest
from system_tables import SystemTables

from dbos import DBOSConfig


@pytest.fixture
def system_tables(config: DBOSConfig) -> SystemTables:
    return SystemTables(config)
