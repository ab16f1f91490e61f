"""Serialization end to end: what portable-JSON and custom-serializer workflows write to rows."""

from __future__ import annotations

import base64
import datetime as dt
import json
import pickle
from decimal import Decimal
from typing import Any

import pytest
from system_tables import SystemTables, launch, relaunch

from dbos import (
    DBOS,
    DBOSConfig,
    PortableWorkflowError,
    Serializer,
    SetWorkflowID,
    WorkflowSerializationFormat,
)

PORTABLE = WorkflowSerializationFormat.PORTABLE
FINISHED = {"SUCCESS", "ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED", "CANCELLED"}


class CodedError(Exception):
    def __init__(self, message: str, code: int, data: Any) -> None:
        super().__init__(message)
        self.code = code
        self.data = data

    def __reduce__(self) -> tuple[Any, ...]:
        return (CodedError, (str(self), self.code, self.data))


class TaggedPickle(Serializer):
    """A custom serializer whose text is recognisably its own."""

    def serialize(self, data: Any) -> str:
        return "tagged:" + base64.b64encode(pickle.dumps(data)).decode("ascii")

    def deserialize(self, serialized_data: str) -> Any:
        assert serialized_data.startswith("tagged:"), serialized_data
        return pickle.loads(base64.b64decode(serialized_data[len("tagged:") :]))

    def name(self) -> str:
        return "tagged_pickle"


def test_a_portable_workflow_stores_portable_json_inputs_and_output(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow(serialization_type=PORTABLE)
    def summarise(count: int, tags: list[str], *, when: dt.datetime, amount: Decimal) -> Any:
        return {"count": count, "tags": tags, "when": when, "amount": amount, "none": None}

    when = dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc)
    with SetWorkflowID("portable"):
        summarise(2, ["a", "b"], when=when, amount=Decimal("1.50"))

    row = system_tables.workflow("portable")
    assert row is not None
    assert row["serialization"] == "portable_json"
    assert row["inputs"] == (
        '{"positionalArgs":[2,["a","b"]],'
        '"namedArgs":{"when":"2024-01-02T03:04:05.678Z","amount":"1.50"}}'
    )
    expected = {
        "count": 2,
        "tags": ["a", "b"],
        "when": "2024-01-02T03:04:05.678Z",
        "amount": "1.50",
        "none": None,
    }
    assert json.loads(row["output"]) == expected
    assert DBOS.get_result("portable") == expected


def test_a_portable_workflow_error_comes_back_as_portable_workflow_error(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow(serialization_type=PORTABLE)
    def fails() -> None:
        raise CodedError("quota exceeded", 429, {"limit": 10})

    with SetWorkflowID("portable-error"), pytest.raises(Exception, match="quota exceeded"):
        fails()

    row = system_tables.workflow("portable-error")
    assert row is not None
    assert row["status"] == "ERROR"
    assert json.loads(row["error"]) == {
        "name": "CodedError",
        "message": "quota exceeded",
        "code": 429,
        "data": {"limit": 10},
    }
    for awaited in (
        lambda: DBOS.get_result("portable-error"),
        lambda: DBOS.retrieve_workflow("portable-error").get_result(),
    ):
        with pytest.raises(PortableWorkflowError) as caught:
            awaited()
        error = caught.value
        assert (str(error), error.name, error.code, error.data) == (
            "quota exceeded",
            "CodedError",
            429,
            {"limit": 10},
        )
    with SetWorkflowID("portable-error"), pytest.raises(PortableWorkflowError):
        fails()


def test_steps_of_a_portable_workflow_use_the_configured_serializer(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.step()
    def make_set() -> set[int]:
        return {1, 2}

    @DBOS.workflow(serialization_type=PORTABLE)
    def wf() -> int:
        return len(make_set())

    with SetWorkflowID("portable-steps"):
        assert wf() == 2
    step = system_tables.steps("portable-steps")[0]
    assert step["serialization"] == "py_pickle"
    assert pickle.loads(base64.b64decode(step["output"])) == {1, 2}


def test_a_portable_workflow_refuses_arguments_json_cannot_hold(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    ran: list[int] = []

    @DBOS.workflow(serialization_type=PORTABLE)
    def wf(value: Any) -> None:
        ran.append(1)

    with SetWorkflowID("portable-bad-arg"), pytest.raises(TypeError):
        wf(object())
    with SetWorkflowID("portable-bad-key"), pytest.raises(TypeError):
        wf({1: "int keys are not portable"})
    assert ran == []
    assert system_tables.workflows() == []


def test_a_recovered_portable_workflow_reads_its_arguments_back_from_json(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    received: list[tuple[Any, ...]] = []

    @DBOS.workflow(serialization_type=PORTABLE)
    def wf(items: list[int], *, label: str) -> str:
        received.append((items, label))
        return f"{label}:{sum(items)}"

    launch(config)
    with SetWorkflowID("portable-recovered"):
        assert wf((1, 2, 3), label="sum") == "sum:6"
    system_tables.force_pending("portable-recovered")
    relaunch(config)
    assert system_tables.wait_for_status("portable-recovered", FINISHED)["status"] == "SUCCESS"
    assert DBOS.get_result("portable-recovered") == "sum:6"
    assert received[1] == ([1, 2, 3], "sum")


def test_a_recovered_portable_workflow_gets_annotated_datetimes_back(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    received: list[Any] = []

    @DBOS.workflow(serialization_type=PORTABLE)
    def wf(when: dt.datetime, day: dt.date) -> str:
        received.append((when, day))
        return "ok"

    launch(config)
    when = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
    with SetWorkflowID("portable-datetime"):
        wf(when, dt.date(2024, 5, 6))
    system_tables.force_pending("portable-datetime")
    relaunch(config)
    system_tables.wait_for_status("portable-datetime", FINISHED)
    recovered_when, recovered_day = received[1]
    assert isinstance(recovered_when, dt.datetime)
    assert recovered_when == when
    assert recovered_day == dt.date(2024, 5, 6)


def test_a_custom_serializer_in_the_config_writes_every_row(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    @DBOS.step()
    def step(x: int) -> int:
        return x + 1

    @DBOS.workflow()
    def wf(x: int) -> int:
        return step(x) * 10

    @DBOS.workflow()
    def fails() -> None:
        raise CodedError("custom failure", 1, None)

    launch({**config, "serializer": TaggedPickle()})
    with SetWorkflowID("custom"):
        assert wf(1) == 20
    with SetWorkflowID("custom-error"), pytest.raises(CodedError):
        fails()

    row = system_tables.workflow("custom")
    assert row is not None
    assert row["serialization"] == "tagged_pickle"
    assert row["inputs"].startswith("tagged:")
    assert row["output"].startswith("tagged:")
    assert TaggedPickle().deserialize(row["output"]) == 20
    step_row = system_tables.steps("custom")[0]
    assert step_row["serialization"] == "tagged_pickle"
    assert TaggedPickle().deserialize(step_row["output"]) == 2
    error_row = system_tables.workflow("custom-error")
    assert error_row is not None
    assert error_row["error"].startswith("tagged:")
    assert DBOS.get_result("custom") == 20
    with pytest.raises(CodedError, match="custom failure"):
        DBOS.get_result("custom-error")


def test_native_and_portable_formats_override_a_custom_serializer(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    @DBOS.workflow(serialization_type=WorkflowSerializationFormat.NATIVE)
    def native(x: int) -> int:
        return x

    @DBOS.workflow(serialization_type=PORTABLE)
    def portable(x: int) -> int:
        return x

    @DBOS.workflow(serialization_type=WorkflowSerializationFormat.DEFAULT)
    def default(x: int) -> int:
        return x

    launch({**config, "serializer": TaggedPickle()})
    for wid, wf in (("native", native), ("portable", portable), ("default", default)):
        with SetWorkflowID(wid):
            assert wf(5) == 5
    rows = {wid: system_tables.workflow(wid) for wid in ("native", "portable", "default")}
    assert {wid: row["serialization"] for wid, row in rows.items()} == {  # type: ignore[index]
        "native": "py_pickle",
        "portable": "portable_json",
        "default": "tagged_pickle",
    }
    assert rows["portable"]["output"] == "5"  # type: ignore[index]
    assert pickle.loads(base64.b64decode(rows["native"]["output"])) == 5  # type: ignore[index]


@pytest.mark.parametrize(
    "inputs",
    ['{"positionalArgs":[1,2],"namedArgs":{"c":3}}', '{"positionalArgs":[1,2,3]}'],
    ids=["both-parts", "positional-only"],
)
def test_a_row_written_as_portable_json_by_another_sdk_runs_in_portable_mode(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables, inputs: str
) -> None:
    @DBOS.workflow()  # declared with the default (pickle) format
    def add(a: int, b: int, c: int = 0) -> dict[str, int]:
        return {"sum": a + b + c}

    launch(config)
    # As another language's SDK would leave it: a PENDING row of this executor and version.
    system_tables.execute(
        "INSERT INTO workflow_status (workflow_uuid, status, name, inputs, serialization, "
        "executor_id, application_version, application_name, created_at, updated_at, "
        "recovery_attempts) VALUES (?, 'PENDING', ?, ?, 'portable_json', 'local', ?, ?, 1, 1, 1)",
        ("from-elsewhere", add.__qualname__, inputs, DBOS.application_version, config["name"]),
    )
    relaunch(config)
    row = system_tables.wait_for_status("from-elsewhere", FINISHED)
    assert row["status"] == "SUCCESS"
    assert row["serialization"] == "portable_json"
    assert row["output"] == '{"sum":6}'
    assert DBOS.get_result("from-elsewhere") == {"sum": 6}


def test_a_value_in_an_unknown_serialization_cannot_be_read(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def wf() -> int:
        return 1

    with SetWorkflowID("martian"):
        wf()
    system_tables.execute(
        "UPDATE workflow_status SET serialization = 'martian' WHERE workflow_uuid = ?",
        ("martian",),
    )
    with pytest.raises(TypeError, match="Serialization martian is not available"):
        DBOS.get_result("martian")
