"""The exceptions DBOS raises (``from dbos.error import DBOSException``)."""

from dbos._error import *  # noqa: F403
from dbos._error import __all__  # noqa: F401
