"""The public surface of `dbos`, pinned: spec section 0 lists every name users import.

Names that later issues bring are listed in PENDING with the issue that adds them; when an
issue lands a name, it moves from PENDING to exported and this test keeps the two honest.
"""

from __future__ import annotations

import dbos

SPEC_SECTION_0 = {
    "DBOS", "DBOSConfig", "DBOSClient", "DBOSConfiguredInstance", "DBOSPortableJSONSerializer",
    "DBOSContextEnsure", "DBOSContextSetAuth", "DuplicationPolicy", "ScheduleInput",
    "EnqueueOptions", "KafkaMessage", "PortableWorkflowError", "PropagateOtelContext",
    "SetWorkflowAttributes", "SetWorkflowID", "SetWorkflowTimeout", "SetEnqueueOptions",
    "SendMessage", "StepInfo", "StepOptions", "WorkflowHandle", "WorkflowHandleAsync",
    "WorkflowSerializationFormat", "WorkflowSchedule", "ClientScheduleInput", "VersionInfo",
    "WorkflowStatus", "WorkflowStatusString", "error", "Queue", "Debouncer", "DebouncerClient",
    "Serializer", "pydantic_args_validator", "make_pydantic_args_validator",
    "run_dbos_database_migrations", "SQLAlchemyDatasource", "AsyncSQLAlchemyDatasource",
}  # fmt: skip

PENDING = {
    # datasources (spec 13.5) are not yet filed as an issue
    "SQLAlchemyDatasource": "spec 13.5",
    "AsyncSQLAlchemyDatasource": "spec 13.5",
    # Not yet filed as issues: debouncer, Kafka, OpenTelemetry.
    "Debouncer": "spec 8", "DebouncerClient": "spec 8", "KafkaMessage": "spec 13.2",
    "PropagateOtelContext": "spec 13.3",
}  # fmt: skip

# Our additions beyond section 0, each deliberate.
EXTRA: set[str] = set()


def test_exports_are_exactly_the_spec_names_built_so_far() -> None:
    assert set(dbos.__all__) == (SPEC_SECTION_0 - set(PENDING)) | EXTRA


def test_pending_names_are_spec_names_not_yet_exported() -> None:
    assert set(PENDING) <= SPEC_SECTION_0
    assert not set(PENDING) & set(dir(dbos))


def test_every_exported_name_resolves() -> None:
    for name in dbos.__all__:
        assert getattr(dbos, name) is not None, name


def test_error_module_is_importable_both_ways() -> None:
    from dbos.error import DBOSException

    assert dbos.error.DBOSException is DBOSException
