"""What durability means, in one minute: an order workflow is killed with SIGKILL halfway
through, and a new process finishes it from its last completed step.

    make demo          (or: python examples/crash_demo.py)

The demo runs the workflow in a child process, kills that process (a real SIGKILL, as a
crash or a lost machine would), then starts a fresh process on the same SQLite file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from dbos import DBOS, SetWorkflowID

ORDER_ID = "order-42"
LOG_NAME = "side_effects.log"


def note(text: str) -> None:
    """Every step leaves a mark outside the database, so we can count what really ran."""
    with open(LOG_NAME, "a") as log:
        log.write(text + "\n")
    print(f"    {text}", flush=True)


@DBOS.step()
def reserve_inventory(order: str) -> str:
    note(f"reserve_inventory({order}) ran in process {os.getpid()}")
    return "2 widgets reserved"


@DBOS.step()
def charge_card(order: str) -> str:
    note(f"charge_card({order}) ran in process {os.getpid()}")
    return "charged $42.00"


@DBOS.step()
def ship(order: str) -> str:
    note(f"ship({order}) started in process {os.getpid()}")
    if os.environ.get("DEMO_FIRST_RUN") == "1":
        print("    ... the courier is slow; this process is about to be killed", flush=True)
        threading.Event().wait()  # the parent kills us here, mid-step
    return "shipped via courier"


@DBOS.step()
def send_receipt(order: str) -> str:
    note(f"send_receipt({order}) ran in process {os.getpid()}")
    return "receipt sent"


@DBOS.workflow()
def process_order(order: str) -> list[str]:
    return [reserve_inventory(order), charge_card(order), ship(order), send_receipt(order)]


def worker() -> None:
    """The application: launch DBOS (which recovers pending workflows) and run the order."""
    DBOS(config={"name": "crash-demo", "log_level": "WARNING"})
    DBOS.launch()
    with SetWorkflowID(ORDER_ID):
        handle = DBOS.start_workflow(process_order, ORDER_ID)
    result = handle.get_result()
    print(f"    workflow {ORDER_ID} finished: {result}", flush=True)
    DBOS.destroy()


def run_demo() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="dbos-demo-"))
    print(f"Working in {workdir} (the system database is crash_demo.sqlite there).\n")
    child_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, os.path.abspath(__file__), "--worker"]

    print("1. Start the order workflow in a child process:")
    first = subprocess.Popen(
        command,
        cwd=workdir,
        env={**child_env, "DEMO_FIRST_RUN": "1"},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert first.stdout is not None
    for line in first.stdout:
        print(line, end="")
        if "about to be killed" in line:
            break
    time.sleep(0.2)  # let the doomed step sit there for a moment: it is a demo, not a test
    first.send_signal(signal.SIGKILL)
    first.communicate()
    print(f"\n2. SIGKILL! The process is gone (exit code {first.returncode}).\n")

    print("3. Start a fresh process on the same database. DBOS recovers the workflow:")
    second = subprocess.run(command, cwd=workdir, env=child_env, check=True)
    assert second.returncode == 0

    counts: dict[str, int] = {}
    for line in (workdir / LOG_NAME).read_text().splitlines():
        step = line.split("(")[0]
        counts[step] = counts.get(step, 0) + 1
    print("\n4. How many times did each step run?")
    for step in ("reserve_inventory", "charge_card", "ship", "send_receipt"):
        print(f"    {step:<18} {counts.get(step, 0)}")
    print(
        "\nThe card was charged exactly once. The step that was in flight when the process died\n"
        "(ship) ran again, because it never checkpointed; every completed step was replayed\n"
        "from the database instead of running again."
    )


if __name__ == "__main__":
    if "--worker" in sys.argv:
        worker()
    else:
        run_demo()
