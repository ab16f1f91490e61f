"""pydantic argument validators for workflows: coercion, error reports, signature shapes."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Annotated

import pytest
from pydantic import BaseModel, Field

from dbos import make_pydantic_args_validator, pydantic_args_validator
from dbos._api.validation import resolve_validator
from dbos.error import DBOSException


class Address(BaseModel):
    city: str
    zip_code: int


def test_values_are_coerced_to_the_annotated_types() -> None:
    def wf(n: int, when: dt.datetime, tags: list[int], address: Address) -> None: ...

    validate = make_pydantic_args_validator(wf)
    args, kwargs = validate(
        ("3", "2024-01-02T03:04:05Z", ["1", 2]), {"address": {"city": "Oslo", "zip_code": "150"}}
    )
    assert args == (3, dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), [1, 2])
    assert kwargs == {"address": Address(city="Oslo", zip_code=150)}


def test_arguments_keep_their_shape_and_defaults_are_not_filled_in() -> None:
    def wf(a: int, b: int = 10, *, c: str = "x") -> None: ...

    validate = make_pydantic_args_validator(wf)
    assert validate(("1",), {"b": "2"}) == ((1,), {"b": 2})
    assert validate((), {"a": "5"}) == ((), {"a": 5})


def test_unannotated_parameters_pass_through_unchanged() -> None:
    def wf(a, b: int) -> None: ...

    marker = object()
    assert make_pydantic_args_validator(wf)((marker, "7"), {}) == ((marker, 7), {})


def test_invalid_arguments_are_all_reported_in_one_value_error() -> None:
    def wf(n: int, address: Address, size: Annotated[int, Field(gt=0)]) -> None: ...

    validate = make_pydantic_args_validator(wf)
    with pytest.raises(ValueError) as caught:
        validate(("abc", {"city": "Oslo"}), {"size": 0})
    lines = str(caught.value).splitlines()
    assert lines[0] == "Argument validation failed for workflow:"
    assert lines[1].startswith("Argument 'n': Input should be a valid integer")
    assert lines[2] == "Argument 'address'['zip_code']: Field required"
    assert lines[3] == "Argument 'size': Input should be greater than 0"
    assert len(lines) == 4


def test_missing_required_arguments_are_named() -> None:
    def wf(a: int, b: int, *, c: int, d: int = 0) -> None: ...

    with pytest.raises(ValueError) as caught:
        make_pydantic_args_validator(wf)(("1",), {})
    assert str(caught.value) == (
        "Argument validation failed for workflow:\n"
        "Missing required argument: 'b'\n"
        "Missing required argument: 'c'"
    )


def test_extra_positional_and_keyword_arguments_are_rejected() -> None:
    def wf(a: int, /, b: int) -> None: ...

    validate = make_pydantic_args_validator(wf)
    with pytest.raises(ValueError, match="Too many positional arguments: expected at most 2"):
        validate((1, 2, 3, 4), {})
    with pytest.raises(ValueError, match="Unexpected keyword argument: 'z'"):
        validate((1, 2), {"z": 3})
    with pytest.raises(ValueError, match="Unexpected keyword argument: 'a'"):
        validate((), {"a": 1, "b": 2})  # a is positional-only
    with pytest.raises(ValueError, match="Multiple values for argument: 'b'"):
        validate((1, 2), {"b": 3})


def test_variadic_arguments_are_validated_element_by_element() -> None:
    def wf(first: int, *rest: int, **options: float) -> None: ...

    validate = make_pydantic_args_validator(wf)
    assert validate(("1", "2", "3"), {"ratio": "0.5"}) == ((1, 2, 3), {"ratio": 0.5})
    with pytest.raises(ValueError) as caught:
        validate((1, 2, "x"), {"ratio": "y"})
    assert "Argument 'rest'[2]: Input should be a valid integer" in str(caught.value)
    assert "Argument 'options'['ratio']: Input should be a valid number" in str(caught.value)


def test_methods_skip_self_and_cls() -> None:
    class Orders:
        def place(self, quantity: int) -> None: ...

        @classmethod
        def restock(cls, quantity: int) -> None: ...

    assert make_pydantic_args_validator(Orders.place)(("4",), {}) == ((4,), {})
    restock = Orders.__dict__["restock"].__func__
    assert make_pydantic_args_validator(restock)((), {"quantity": "5"}) == ((), {"quantity": 5})


def test_hints_are_resolved_on_first_use_so_later_definitions_work() -> None:
    def wf(item: LateModel) -> None: ...

    validate = make_pydantic_args_validator(wf)  # LateModel is not defined yet
    assert validate(({"name": "pen"},), {}) == ((LateModel(name="pen"),), {})


class LateModel(BaseModel):
    name: str


def test_the_marker_is_resolved_for_the_decorated_function() -> None:
    def wf(n: int) -> None: ...

    resolved = resolve_validator(pydantic_args_validator, wf)
    assert resolved is not None and resolved is not pydantic_args_validator
    assert resolved(("2",), {}) == ((2,), {})

    def custom(
        args: tuple[object, ...], kwargs: dict[str, object]
    ) -> tuple[tuple[object, ...], dict[str, object]]:
        return args, kwargs

    assert resolve_validator(custom, wf) is custom
    assert resolve_validator(None, wf) is None


def test_the_marker_called_directly_explains_how_to_use_it() -> None:
    with pytest.raises(DBOSException, match="make_pydantic_args_validator"):
        pydantic_args_validator((1,), {})


def test_a_missing_pydantic_install_fails_when_the_validator_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pydantic", None)  # makes `import pydantic` fail

    def wf(n: int) -> None: ...

    with pytest.raises(ImportError, match=r"dbos\[validation\]"):
        make_pydantic_args_validator(wf)
