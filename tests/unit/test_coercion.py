from __future__ import annotations

import datetime as dt
from typing import Optional

from dbos._core.coercion import coerce_portable_args

UTC = dt.timezone.utc


def test_annotated_datetimes_and_dates_are_parsed_back() -> None:
    def wf(when: dt.datetime, day: dt.date | None, n: int, note: str) -> None: ...

    args, kwargs = coerce_portable_args(
        wf, ("2024-01-02T03:04:05.000Z", "2024-05-06"), {"n": 1, "note": "2024-05-06"}
    )
    assert args == (dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), dt.date(2024, 5, 6))
    assert kwargs == {"n": 1, "note": "2024-05-06"}  # a str parameter stays a str


def test_optional_and_keyword_datetimes_are_parsed() -> None:
    def wf(a: Optional[dt.datetime] = None, b: dt.datetime | None = None) -> None: ...  # noqa: UP045

    _, kwargs = coerce_portable_args(wf, (), {"a": "2020-02-02T00:00:00Z", "b": None})
    assert kwargs == {"a": dt.datetime(2020, 2, 2, tzinfo=UTC), "b": None}


def test_values_that_do_not_parse_are_left_alone() -> None:
    def wf(when: dt.datetime) -> None: ...

    assert coerce_portable_args(wf, ("not a date",), {}) == (("not a date",), {})


def test_unannotated_functions_are_untouched() -> None:
    def wf(a, b):  # type: ignore[no-untyped-def]
        ...

    args = ("2024-01-02T03:04:05.000Z", 1)
    assert coerce_portable_args(wf, args, {}) == (args, {})
