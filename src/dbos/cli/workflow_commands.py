"""``dbos workflow ...`` and ``dbos workflow queue list``: inspect and manage workflows.

Every command acts through a DBOSClient (so through the one management service), never on
the database directly. The client names no application, so lists show every
application's workflows unless ``-a`` narrows them. Tables by default, ``--json`` for
programs.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, TypeVar

import click

from dbos import DBOSClient, SetWorkflowID, WorkflowStatus
from dbos.cli.database_options import JSON, database_options, opened_client
from dbos.cli.rendering import (
    status_record,
    step_record,
    steps_table,
    to_json,
    workflow_details,
    workflows_table,
)
from dbos.error import DBOSNonExistentWorkflowError

F = TypeVar("F", bound=Callable[..., Any])
FINISHED = ("SUCCESS", "ERROR")


def _list_options(*, queue: bool) -> Callable[[F], F]:
    """The filters of ``workflow list`` (``queue``: of ``workflow queue list``)."""
    options = [
        click.option("-l", "--limit", type=int, default=10, show_default=True,
                     help="How many workflows to show."),
        click.option("-o", "--offset", type=int, default=None, help="Skip this many first."),
        click.option("-t", "--start-time", default=None,
                     help="Created at or after this ISO-8601 time."),
        click.option("-e", "--end-time", default=None,
                     help="Created at or before this ISO-8601 time."),
        click.option("-S", "--status", multiple=True,
                     help="Only this status (repeat for several)."),
        click.option("-n", "--name", default=None, help="Only workflows of this function."),
        click.option("-a", "--application-name", default=None,
                     help="Only this application's workflows."),
        click.option("-d", "--sort-desc", is_flag=True, help="Newest first."),
        JSON,
    ]  # fmt: skip
    if queue:
        options.append(click.option("-q", "--queue-name", default=None, help="Only this queue."))
    else:
        options += [
            click.option("-u", "--user", default=None, help="Only this authenticated user's."),
            click.option("-v", "--application-version", default=None,
                         help="Only this application version's."),
        ]  # fmt: skip

    def apply(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return database_options(command)

    return apply


def _filters(options: dict[str, Any], as_json: bool) -> dict[str, Any]:
    """The client's list filters from the command's options."""
    renamed = {"application_version": "app_version"}
    filters = {renamed.get(k, k): v for k, v in options.items() if v not in (None, ())}
    if "status" in filters:
        filters["status"] = list(filters["status"])
    # Tables show no inputs or outputs: do not read (or deserialize) them.
    return {**filters, "load_input": as_json, "load_output": as_json}


def _show_list(statuses: list[WorkflowStatus], as_json: bool) -> None:
    if as_json:
        click.echo(to_json([status_record(s) for s in statuses]))
    else:
        click.echo(workflows_table(statuses))


def _status(client: DBOSClient, workflow_id: str, *, load: bool = True) -> WorkflowStatus:
    """The workflow's status (``load``: with inputs and outcome); unknown IDs are an error."""
    found = client.list_workflows(workflow_ids=[workflow_id], load_input=load, load_output=load)
    if not found:
        raise DBOSNonExistentWorkflowError("target", workflow_id)
    return found[0]


@click.group()
def workflow() -> None:
    """List and manage workflows in the system database."""


@workflow.command("list")
@_list_options(queue=False)
def list_workflows(
    database_url: str | None, system_database_url: str | None, schema: str, as_json: bool,
    **options: Any,
) -> None:  # fmt: skip
    """List workflows, oldest first (-d for newest first)."""
    with opened_client(system_database_url, database_url, schema) as client:
        _show_list(client.list_workflows(**_filters(options, as_json)), as_json)


@workflow.command("get")
@click.argument("workflow_id")
@database_options
@JSON
def get_workflow(
    workflow_id: str, database_url: str | None, system_database_url: str | None, schema: str,
    as_json: bool,
) -> None:  # fmt: skip
    """Show one workflow: its status, inputs and outcome."""
    with opened_client(system_database_url, database_url, schema) as client:
        status = _status(client, workflow_id)
        click.echo(to_json(status_record(status)) if as_json else workflow_details(status))


@workflow.command("steps")
@click.argument("workflow_id")
@database_options
@JSON
def list_steps(
    workflow_id: str, database_url: str | None, system_database_url: str | None, schema: str,
    as_json: bool,
) -> None:  # fmt: skip
    """List the steps a workflow recorded, in order."""
    with opened_client(system_database_url, database_url, schema) as client:
        _status(client, workflow_id, load=False)
        steps = client.list_workflow_steps(workflow_id)
        click.echo(to_json([step_record(s) for s in steps]) if as_json else steps_table(steps))


@workflow.command("cancel")
@click.argument("workflow_id")
@database_options
def cancel_workflow(
    workflow_id: str, database_url: str | None, system_database_url: str | None, schema: str
) -> None:
    """Cancel a workflow; a run stops at its next step, wherever it runs."""
    with opened_client(system_database_url, database_url, schema) as client:
        status = _status(client, workflow_id, load=False).status
        if status in FINISHED:
            click.echo(f"Workflow {workflow_id} already finished ({status}); nothing to cancel.")
            return
        client.cancel_workflow(workflow_id)
        click.echo(f"Cancelled workflow {workflow_id}.")


@workflow.command("resume")
@click.argument("workflow_id")
@database_options
def resume_workflow(
    workflow_id: str, database_url: str | None, system_database_url: str | None, schema: str
) -> None:
    """Resume a cancelled or failed-over workflow from its last completed step."""
    with opened_client(system_database_url, database_url, schema) as client:
        # The status before the resume decides: a resumed workflow may finish on a worker
        # before a status read after the resume comes back.
        status = _status(client, workflow_id, load=False).status
        if status in FINISHED:
            click.echo(f"Workflow {workflow_id} already finished ({status}); nothing to resume.")
            return
        status = client.resume_workflow(workflow_id).get_status().status
        click.echo(f"Resumed workflow {workflow_id}; it is {status}.")


@workflow.command("fork")
@click.argument("workflow_id")
@click.option("-S", "--step", type=int, default=1, show_default=True,
              help="Run again from this step; earlier steps replay.")  # fmt: skip
@click.option("-f", "--forked-workflow-id", default=None, help="The new workflow's ID.")
@click.option("-v", "--application-version", default=None, help="Run it on this version.")
@database_options
def fork_workflow(
    *, workflow_id: str, step: int, forked_workflow_id: str | None,
    application_version: str | None, database_url: str | None,
    system_database_url: str | None, schema: str,
) -> None:  # fmt: skip
    """Start a new workflow that re-runs WORKFLOW_ID from a step."""
    with opened_client(system_database_url, database_url, schema) as client:
        with SetWorkflowID(forked_workflow_id) if forked_workflow_id else nullcontext():
            fork = client.fork_workflow(workflow_id, step, application_version=application_version)
        click.echo(f"Forked workflow {workflow_id} from step {step} as {fork.workflow_id}.")


@workflow.command("delete")
@click.argument("workflow_id")
@click.option("--delete-children", is_flag=True, help="Also delete its child workflows.")
@database_options
def delete_workflow(
    *, workflow_id: str, delete_children: bool, database_url: str | None,
    system_database_url: str | None, schema: str,
) -> None:  # fmt: skip
    """Delete a workflow and everything recorded for it."""
    with opened_client(system_database_url, database_url, schema) as client:
        _status(client, workflow_id, load=False)
        client.delete_workflow(workflow_id, delete_children=delete_children)
        click.echo(f"Deleted workflow {workflow_id}.")


@workflow.group("queue")
def queue() -> None:
    """Workflows waiting on or running from queues."""


@queue.command("list")
@_list_options(queue=True)
def list_queued(
    database_url: str | None, system_database_url: str | None, schema: str, as_json: bool,
    **options: Any,
) -> None:  # fmt: skip
    """List queued workflows (ENQUEUED, PENDING or DELAYED unless -S says otherwise)."""
    with opened_client(system_database_url, database_url, schema) as client:
        _show_list(client.list_queued_workflows(**_filters(options, as_json)), as_json)
