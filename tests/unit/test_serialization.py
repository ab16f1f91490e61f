"""Serializers and the payload codec: round trips, portable formatting, names, args, errors."""

from __future__ import annotations

import datetime as dt
import json
import pickle
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbos._core.serialization import (
    DBOSPortableJSONSerializer,
    DefaultSerializer,
    PayloadCodec,
    PortableWorkflowError,
    Serializer,
    WorkflowSerializationFormat,
)

PICKLE = DefaultSerializer()
PORTABLE = DBOSPortableJSONSerializer()


class UpperJSONSerializer(Serializer):
    """A custom serializer whose output is recognisably its own."""

    def serialize(self, data: Any) -> str:
        return "U" + json.dumps(data)

    def deserialize(self, serialized_data: str) -> Any:
        assert serialized_data.startswith("U")
        return json.loads(serialized_data[1:])

    def name(self) -> str:
        return "upper_json"


class Anonymous(Serializer):
    def serialize(self, data: Any) -> str:
        return json.dumps(data)

    def deserialize(self, serialized_data: str) -> Any:
        return json.loads(serialized_data)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)

picklable_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.frozensets(st.integers() | st.text(max_size=4), max_size=4)
        | st.dictionaries(st.integers() | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


# ---------------------------------------------------------------- serializers


@given(picklable_values)
def test_default_serializer_round_trips_python_values(value: Any) -> None:
    text = PICKLE.serialize(value)
    assert text.isascii()
    assert PICKLE.deserialize(text) == value


@given(json_values)
def test_portable_serializer_round_trips_json_values(value: Any) -> None:
    assert PORTABLE.deserialize(PORTABLE.serialize(value)) == value


def test_serializer_names() -> None:
    assert PICKLE.name() == "py_pickle"
    assert PORTABLE.name() == "portable_json"
    assert Anonymous().name() == "custom_serializer"


def test_portable_output_is_compact_and_unescaped() -> None:
    assert PORTABLE.serialize({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'


def test_portable_datetimes_are_utc_milliseconds_with_z() -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    aware = dt.datetime(2024, 3, 1, 12, 30, 45, 123456, tzinfo=plus_two)
    naive = dt.datetime(2024, 3, 1, 12, 30, 45)
    assert PORTABLE.serialize(aware) == '"2024-03-01T10:30:45.123Z"'
    assert PORTABLE.serialize(naive) == '"2024-03-01T12:30:45.000Z"'


# Bounded away from year 1 and 9999, where converting to UTC leaves datetime's range.
@given(
    st.datetimes(
        min_value=dt.datetime(2, 1, 1),
        max_value=dt.datetime(9998, 12, 31),
        timezones=st.one_of(st.none(), st.timezones()),
    )
)
def test_portable_datetime_reads_back_as_the_same_instant_to_the_millisecond(
    value: dt.datetime,
) -> None:
    text = PORTABLE.deserialize(PORTABLE.serialize(value))
    assert text.endswith("Z")
    parsed = dt.datetime.fromisoformat(text[:-1]).replace(tzinfo=dt.timezone.utc)
    expected = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    assert abs(parsed - expected) < dt.timedelta(milliseconds=1)


def test_portable_dates_decimals_sets_and_tuples() -> None:
    assert PORTABLE.serialize(dt.date(2024, 1, 2)) == '"2024-01-02"'
    assert PORTABLE.serialize(Decimal("1E+3")) == '"1000"'
    assert PORTABLE.serialize(Decimal("0.000001")) == '"0.000001"'
    assert PORTABLE.serialize((1, (2, 3))) == "[1,[2,3]]"
    assert sorted(PORTABLE.deserialize(PORTABLE.serialize({3, 1, 2}))) == [1, 2, 3]
    assert PORTABLE.serialize({"when": [dt.date(2020, 5, 6)]}) == '{"when":["2020-05-06"]}'


@pytest.mark.parametrize("key", [1, 1.5, True, None, ("a",)])
def test_portable_rejects_non_string_keys(key: Any) -> None:
    with pytest.raises(TypeError, match="str mapping keys"):
        PORTABLE.serialize({"outer": {key: 1}})


@pytest.mark.parametrize("value", [b"bytes", object(), dt.time(1, 2), complex(1, 2)])
def test_portable_rejects_other_types(value: Any) -> None:
    with pytest.raises(TypeError, match="not portable JSON serializable"):
        PORTABLE.serialize([value])


# ---------------------------------------------------------------- formats and names


def test_serialization_format_values() -> None:
    fmt = WorkflowSerializationFormat
    assert fmt.PORTABLE.value == "portable"
    assert fmt.NATIVE.value == "native"
    assert fmt.DEFAULT.value is None
    assert fmt(None) is fmt.DEFAULT
    assert fmt("portable") is fmt.PORTABLE
    assert fmt.PORTABLE == "portable"
    assert repr(fmt.DEFAULT) == "<WorkflowSerializationFormat.DEFAULT: None>"
    assert pickle.loads(pickle.dumps(fmt.DEFAULT)) is fmt.DEFAULT


def test_serializer_for_each_format() -> None:
    custom = UpperJSONSerializer()
    codec = PayloadCodec(custom)
    assert codec.serializer_for(WorkflowSerializationFormat.PORTABLE).name() == "portable_json"
    assert codec.serializer_for(WorkflowSerializationFormat.NATIVE).name() == "py_pickle"
    assert codec.serializer_for(WorkflowSerializationFormat.DEFAULT) is custom
    assert codec.serializer_for(None) is custom
    assert codec.configured is custom


def test_by_name_resolves_builtins_configured_and_legacy_rows() -> None:
    custom = UpperJSONSerializer()
    codec = PayloadCodec(custom)
    assert codec.by_name(None) is custom
    assert codec.by_name("upper_json") is custom
    assert codec.by_name("py_pickle").name() == "py_pickle"
    assert codec.by_name("portable_json").name() == "portable_json"


def test_unknown_serializer_name_is_a_type_error() -> None:
    codec = PayloadCodec(DefaultSerializer())
    with pytest.raises(TypeError, match=r"^Serialization upper_json is not available$"):
        codec.by_name("upper_json")
    with pytest.raises(TypeError, match=r"^Serialization upper_json is not available$"):
        codec.decode_value("U1", "upper_json")


def test_builtin_names_cannot_be_shadowed_by_a_custom_serializer() -> None:
    class Impostor(UpperJSONSerializer):
        def name(self) -> str:
            return "py_pickle"

    codec = PayloadCodec(Impostor())
    assert codec.decode_value(PICKLE.serialize({"x": 1}), "py_pickle") == {"x": 1}


@pytest.mark.parametrize("name", [None, "upper_json", "py_pickle", "portable_json"])
def test_values_round_trip_through_the_codec(name: str | None) -> None:
    codec = PayloadCodec(UpperJSONSerializer())
    serializer = codec.by_name(name)
    value = {"a": [1, 2.5, "three", None, True]}
    assert codec.decode_value(codec.encode_value(value, serializer), name) == value


@given(picklable_values)
def test_pickle_values_round_trip_through_the_codec(value: Any) -> None:
    codec = PayloadCodec(DefaultSerializer())
    assert codec.decode_value(codec.encode_value(value, codec.configured), None) == value


# ---------------------------------------------------------------- workflow inputs


def test_portable_args_layout_and_round_trip() -> None:
    codec = PayloadCodec(DefaultSerializer())
    text = codec.encode_args((1, "a"), {"when": dt.date(2024, 1, 2)}, PORTABLE)
    assert json.loads(text) == {"positionalArgs": [1, "a"], "namedArgs": {"when": "2024-01-02"}}
    assert codec.decode_args(text, "portable_json") == ((1, "a"), {"when": "2024-01-02"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{}", ((), {})),
        ('{"positionalArgs":[1]}', ((1,), {})),
        ('{"namedArgs":{"k":2}}', ((), {"k": 2})),
        ('{"positionalArgs":null,"namedArgs":null}', ((), {})),
    ],
)
def test_portable_args_missing_parts_default_to_empty(
    text: str, expected: tuple[tuple[Any, ...], dict[str, Any]]
) -> None:
    assert PayloadCodec(DefaultSerializer()).decode_args(text, "portable_json") == expected


def test_native_args_keep_python_types() -> None:
    codec = PayloadCodec(DefaultSerializer())
    args = (1, (2, 3), {4}, b"x")
    kwargs = {"when": dt.datetime(2024, 1, 2, 3, 4, 5, 6)}
    text = codec.encode_args(args, kwargs, codec.configured)
    assert PICKLE.deserialize(text) == {"args": args, "kwargs": kwargs}
    assert codec.decode_args(text, "py_pickle") == (args, kwargs)
    assert codec.decode_args(text, None) == (args, kwargs)


def test_custom_serializer_args_use_the_native_layout() -> None:
    codec = PayloadCodec(UpperJSONSerializer())
    text = codec.encode_args((1, 2), {"k": "v"}, codec.configured)
    assert text == 'U{"args": [1, 2], "kwargs": {"k": "v"}}'
    assert codec.decode_args(text, "upper_json") == ((1, 2), {"k": "v"})


# ---------------------------------------------------------------- errors


class TwoArgumentError(Exception):
    """Pickles, but cannot be rebuilt: its __init__ takes other arguments than its .args."""

    def __init__(self, left: str, right: str) -> None:
        super().__init__(f"{left}-{right}")


class CodedError(Exception):
    def __init__(self, message: str, code: Any = None, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = details
        self.errno = 99


def test_picklable_errors_round_trip_whole() -> None:
    codec = PayloadCodec(DefaultSerializer())
    decoded = codec.decode_error(codec.encode_error(KeyError("missing"), PICKLE), "py_pickle")
    assert type(decoded) is KeyError
    assert decoded.args == ("missing",)


def test_unpicklable_error_falls_back_to_its_text() -> None:
    class LocalError(Exception):
        pass

    codec = PayloadCodec(DefaultSerializer())
    decoded = codec.decode_error(codec.encode_error(LocalError("boom"), PICKLE), None)
    assert type(decoded) is Exception
    assert str(decoded) == "LocalError: boom"


def test_error_that_cannot_be_rebuilt_falls_back_to_its_text() -> None:
    codec = PayloadCodec(DefaultSerializer())
    decoded = codec.decode_error(codec.encode_error(TwoArgumentError("a", "b"), PICKLE), None)
    assert type(decoded) is Exception
    assert str(decoded) == "TwoArgumentError: a-b"


def test_portable_error_record_and_decoding() -> None:
    codec = PayloadCodec(DefaultSerializer())
    exc = CodedError("no such order", code="E42", details={"order": 7, "at": dt.date(2024, 1, 2)})
    text = codec.encode_error(exc, PORTABLE)
    assert json.loads(text) == {
        "name": "CodedError",
        "message": "no such order",
        "code": "E42",
        "data": {"order": 7, "at": "2024-01-02"},
    }
    decoded = codec.decode_error(text, "portable_json")
    assert isinstance(decoded, PortableWorkflowError)
    assert str(decoded) == "no such order"
    assert (decoded.name, decoded.code, decoded.data) == (
        "CodedError",
        "E42",
        {"order": 7, "at": "2024-01-02"},
    )


def test_portable_error_code_falls_through_and_data_is_stringified() -> None:
    codec = PayloadCodec(DefaultSerializer())
    record = json.loads(codec.encode_error(CodedError("x", details=object), PORTABLE))
    assert record["code"] == 99
    assert record["data"] == str(object)


def test_portable_error_without_code_or_data() -> None:
    codec = PayloadCodec(DefaultSerializer())
    record = json.loads(codec.encode_error(ValueError("bad"), PORTABLE))
    assert record == {"name": "ValueError", "message": "bad", "code": None}
    decoded = codec.decode_error(json.dumps(record), "portable_json")
    assert isinstance(decoded, PortableWorkflowError)
    assert (decoded.message, decoded.name, decoded.code, decoded.data) == (
        "bad",
        "ValueError",
        None,
        None,
    )


def test_portable_error_written_by_another_sdk_with_missing_fields() -> None:
    codec = PayloadCodec(DefaultSerializer())
    decoded = codec.decode_error('{"message":"from typescript"}', "portable_json")
    assert isinstance(decoded, PortableWorkflowError)
    assert (str(decoded), decoded.name) == ("from typescript", "Error")


def test_portable_workflow_error_pickles() -> None:
    exc = PortableWorkflowError("msg", "TypeError", 3, {"k": [1]})
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is PortableWorkflowError
    assert (copy.message, copy.name, copy.code, copy.data) == ("msg", "TypeError", 3, {"k": [1]})
    assert str(copy) == "msg"


def test_custom_serializer_that_returns_a_non_exception_still_yields_an_error() -> None:
    codec = PayloadCodec(UpperJSONSerializer())
    decoded = codec.decode_error('U"just text"', "upper_json")
    assert type(decoded) is Exception
    assert str(decoded) == "just text"
