"""Fixtures for the API behaviour tests."""

from __future__ import annotations

import pytest
from schedule_support import ManualTime, install_manual_time
from system_tables import SystemTables

from dbos import DBOSConfig


@pytest.fixture
def system_tables(config: DBOSConfig) -> SystemTables:
    return SystemTables(config)


@pytest.fixture
def manual_time(monkeypatch: pytest.MonkeyPatch) -> ManualTime:
    """The schedulers of this test run on a clock that only the test moves (T0 at launch)."""
    return install_manual_time(monkeypatch)
