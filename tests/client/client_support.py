"""What the client tests share besides fixtures: the type of the make_client fixture."""

from __future__ import annotations

from collections.abc import Callable

from dbos import DBOSClient

ClientFactory = Callable[..., DBOSClient]
