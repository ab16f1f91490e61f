"""Turning workflow values, arguments and errors into stored text and back.

Pure: no I/O and no clock reads. ``PortableWorkflowError`` lives here rather than in
``dbos._error`` because the core imports nothing outside ``dbos._core``.

``WorkflowSerializationFormat`` is a ``str`` enum whose ``DEFAULT`` member has the value
``None``: a custom ``__new__`` stores the original value, so ``.value`` is ``None`` while the
string payload is ``""``. That keeps ``PORTABLE == "portable"`` true for callers passing plain
strings, keeps ``WorkflowSerializationFormat(None)`` a valid lookup, and leaves ``DEFAULT``
falsy like the ``None`` it stands for.

Serializer names resolve built-ins first: a custom serializer calling itself ``py_pickle`` or
``portable_json`` cannot shadow the formats other processes and SDKs write under those names.
"""

from __future__ import annotations

import binascii
import copy
import datetime as dt
import json
import pickle
from abc import ABC, abstractmethod
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any, Final

_PICKLE_NAME: Final = "py_pickle"
_PORTABLE_NAME: Final = "portable_json"

# Attribute names other SDKs and common libraries use for an error's code and payload, in the
# order we prefer them.
_CODE_ATTRIBUTES: Final = ("code", "error_code", "errno", "status", "status_code")
_DATA_ATTRIBUTES: Final = ("data", "details", "payload", "extra", "meta", "metadata")


class Serializer(ABC):
    """Turns values into text for the system database and back.

    Set one with ``DBOSConfig["serializer"]`` (and the same one on ``DBOSClient``). Its
    ``name()`` is stored beside every value it writes, so it must be stable across releases.
    """

    @abstractmethod
    def serialize(self, data: Any) -> str:
        """Return ``data`` as text."""

    @abstractmethod
    def deserialize(self, serialized_data: str) -> Any:
        """Return the value that ``serialize`` turned into ``serialized_data``."""

    def name(self) -> str:
        """Return the name stored beside each value this serializer writes."""
        return "custom_serializer"


class DefaultSerializer(Serializer):
    """Pickle (highest protocol), as base64 text: any picklable Python value, Python only."""

    def serialize(self, data: Any) -> str:
        """Return ``data`` pickled and base64-encoded."""
        # binascii directly: base64.b64encode is a Python wrapper around it, and this is called
        # once per step.
        return binascii.b2a_base64(
            pickle.dumps(data, pickle.HIGHEST_PROTOCOL), newline=False
        ).decode("ascii")

    def deserialize(self, serialized_data: str) -> Any:
        """Return the value pickled in ``serialized_data``."""
        return pickle.loads(binascii.a2b_base64(serialized_data))

    def name(self) -> str:
        """Return ``"py_pickle"``."""
        return _PICKLE_NAME


def _utc_timestamp(value: dt.datetime) -> str:
    utc = (
        value.replace(tzinfo=None)
        if value.tzinfo is None
        else value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    )
    return utc.isoformat(timespec="milliseconds") + "Z"


def _to_portable(value: Any) -> Any:
    """Return ``value`` as plain JSON types, or raise TypeError.

    The tree is rebuilt before ``json.dumps`` because json itself would quietly turn int, float,
    bool and None keys into strings, which other SDKs could not map back.
    """
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_to_portable(item) for item in value]
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"Portable JSON needs str mapping keys, not {type(key).__name__}: {key!r}"
                )
            out[key] = _to_portable(item)
        return out
    if isinstance(value, dt.datetime):
        return _utc_timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"Type {type(value).__name__} is not portable JSON serializable")


class DBOSPortableJSONSerializer(Serializer):
    """Compact JSON that the TypeScript, Go and Java SDKs read and write too.

    ``datetime`` becomes an RFC-3339 UTC string with milliseconds and ``Z`` (naive means UTC),
    ``date`` an ISO date, ``Decimal`` a fixed-point string; tuples, lists and sets become
    arrays. Mappings need ``str`` keys. Anything else raises ``TypeError``. Reading gives
    plain JSON values back.
    """

    def serialize(self, data: Any) -> str:
        """Return ``data`` as compact portable JSON."""
        return json.dumps(_to_portable(data), separators=(",", ":"), ensure_ascii=False)

    def deserialize(self, serialized_data: str) -> Any:
        """Return the JSON value in ``serialized_data``."""
        return json.loads(serialized_data)

    def name(self) -> str:
        """Return ``"portable_json"``."""
        return _PORTABLE_NAME


class PortableWorkflowError(Exception):
    """An error read back from portable JSON: it keeps the name, code and data it was stored with.

    Args:
        message: The original error's message; ``str()`` of this error.
        name: The original error's type name.
        code: The original error's code, if it had one.
        data: The original error's extra data, if it had any.
    """

    def __init__(self, message: str, name: str, code: Any = None, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.code = code
        self.data = data

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.message, self.name, self.code, self.data))


class WorkflowSerializationFormat(str, Enum):
    """How one workflow's inputs, outputs and messages are stored.

    ``PORTABLE`` is portable JSON, ``NATIVE`` forces the pickle serializer, and ``DEFAULT``
    (value ``None``) uses the configured serializer.
    """

    _value_: str | None

    PORTABLE = "portable"
    NATIVE = "native"
    DEFAULT = None

    def __new__(cls, value: str | None) -> WorkflowSerializationFormat:
        member = str.__new__(cls, value or "")
        member._value_ = value
        return member

    def __repr__(self) -> str:
        # Enum's own repr formats the value with str.__repr__, which fails on DEFAULT's None.
        return f"<{type(self).__name__}.{self.name}: {self.value!r}>"


_PICKLE: Final = DefaultSerializer()
_PORTABLE: Final = DBOSPortableJSONSerializer()


def _first_attribute(exc: BaseException, names: tuple[str, ...]) -> Any:
    for attribute in names:
        value = getattr(exc, attribute, None)
        if value is not None:
            return value
    return None


def _portable_or_text(value: Any) -> Any:
    try:
        return _to_portable(value)
    except TypeError:
        return str(value)


def _portable_error(exc: BaseException) -> dict[str, Any]:
    code = _first_attribute(exc, _CODE_ATTRIBUTES)
    record: dict[str, Any] = {
        "name": type(exc).__name__,
        "message": str(exc),
        "code": None if code is None else _portable_or_text(code),
    }
    data = _first_attribute(exc, _DATA_ATTRIBUTES)
    if data is not None:
        record["data"] = _portable_or_text(data)
    return record


class PayloadCodec:
    """The one place the runtime turns values, arguments and errors into stored text and back.

    Each stored value carries its serializer's name; ``decode_*`` take that name (``None`` for
    legacy rows, meaning the configured serializer) and raise ``TypeError`` for a name this
    process cannot read.
    """

    __slots__ = ("_by_name", "_configured")

    def __init__(self, configured: Serializer) -> None:
        self._configured = configured
        self._by_name: dict[str | None, Serializer] = {
            None: configured,
            configured.name(): configured,
            _PICKLE_NAME: _PICKLE,
            _PORTABLE_NAME: _PORTABLE,
        }

    @property
    def configured(self) -> Serializer:
        """The serializer set in the configuration (pickle unless the user chose another)."""
        return self._configured

    def serializer_for(self, fmt: WorkflowSerializationFormat | None) -> Serializer:
        """Return the serializer a workflow in format ``fmt`` writes with."""
        if fmt is None or fmt is WorkflowSerializationFormat.DEFAULT:
            return self._configured
        if fmt == WorkflowSerializationFormat.PORTABLE:
            return _PORTABLE
        if fmt == WorkflowSerializationFormat.NATIVE:
            return _PICKLE
        raise ValueError(f"Unknown serialization format {fmt!r}")

    def by_name(self, name: str | None) -> Serializer:
        """Return the serializer stored under ``name``; ``None`` means the configured one."""
        serializer = self._by_name.get(name)
        if serializer is None:
            raise TypeError(f"Serialization {name} is not available")
        return serializer

    def encode_value(self, value: Any, serializer: Serializer) -> str:
        """Return ``value`` as text written by ``serializer``."""
        return serializer.serialize(value)

    def decode_value(self, text: str, name: str | None) -> Any:
        """Return the value stored as ``text`` by the serializer called ``name``."""
        serializer = self._by_name.get(name)
        if serializer is None:
            raise TypeError(f"Serialization {name} is not available")
        return serializer.deserialize(text)

    def encode_args(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], serializer: Serializer
    ) -> str:
        """Return a workflow's inputs as text in the layout ``serializer``'s readers expect."""
        if serializer.name() == _PORTABLE_NAME:
            return serializer.serialize({"positionalArgs": args, "namedArgs": kwargs})
        return serializer.serialize({"args": args, "kwargs": kwargs})

    def decode_args(self, text: str, name: str | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Return the ``(args, kwargs)`` stored as ``text``; absent parts come back empty."""
        serializer = self.by_name(name)
        stored = serializer.deserialize(text)
        if serializer.name() == _PORTABLE_NAME:
            # Other SDKs and the SQL enqueue function may leave either part out.
            args, kwargs = stored.get("positionalArgs"), stored.get("namedArgs")
        else:
            args, kwargs = stored.get("args"), stored.get("kwargs")
        return tuple(args or ()), dict(kwargs or {})

    def encode_error(self, exc: BaseException, serializer: Serializer) -> str:
        """Return ``exc`` as text; an error that cannot survive the trip is kept as its text."""
        if serializer.name() == _PORTABLE_NAME:
            return serializer.serialize(_portable_error(exc))
        text = self._faithful(exc, serializer)
        if text is not None:
            return text
        # An error that carries other errors (DBOSMaxStepRetriesExceeded.errors) keeps its
        # own type when only some of those cannot be stored: store those as text instead.
        errors = getattr(exc, "errors", None)
        if isinstance(errors, list) and errors:
            holder = copy.copy(exc)
            holder.errors = [  # type: ignore[attr-defined]
                e if self._faithful(e, serializer) is not None else _as_text(e) for e in errors
            ]
            text = self._faithful(holder, serializer)
            if text is not None:
                return text
        return serializer.serialize(_as_text(exc))

    @staticmethod
    def _faithful(exc: BaseException, serializer: Serializer) -> str | None:
        """``exc`` stored, or None if it would not read back."""
        try:
            text = serializer.serialize(exc)
            # Many exceptions pickle but cannot be rebuilt (an __init__ with other arguments
            # than .args); finding out now beats failing in every later get_result.
            serializer.deserialize(text)
        except Exception:
            return None
        return text

    def decode_error(self, text: str, name: str | None) -> BaseException:
        """Return the error stored as ``text``; portable errors become PortableWorkflowError."""
        serializer = self.by_name(name)
        stored = serializer.deserialize(text)
        if serializer.name() == _PORTABLE_NAME:
            return _portable_error_from(stored)
        if isinstance(stored, BaseException):
            return stored
        # A custom serializer may hand back something else; raising it needs an exception.
        return Exception(str(stored))


def _as_text(exc: BaseException) -> Exception:
    return Exception(f"{type(exc).__name__}: {exc}")


def _portable_error_from(stored: Any) -> PortableWorkflowError:
    if not isinstance(stored, dict):
        return PortableWorkflowError(str(stored), "Error")
    return PortableWorkflowError(
        str(stored.get("message", "")),
        str(stored.get("name", "Error")),
        stored.get("code"),
        stored.get("data"),
    )
