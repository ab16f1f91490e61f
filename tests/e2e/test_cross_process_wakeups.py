"""A message sent by another process wakes a waiting recv at once, on both backends.

On Postgres the sender's commit fires a NOTIFY that this process's listener receives; on
SQLite this process notices the other process's commit through PRAGMA data_version. Either
way the waiter wakes long before its safety-net re-read of the database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from dbos import DBOS, DBOSConfig
from dbos._api.lifecycle import NOTIFIED_RECHECK_SECONDS

WORKER = Path(__file__).with_name("messaging_worker.py")


def test_a_send_from_another_process_wakes_recv_before_the_safety_net(
    config: DBOSConfig, clean_dbos: None, system_database_url: str, pg_schema: str
) -> None:
    @DBOS.workflow()
    def patient() -> object:
        return DBOS.recv("cross", timeout_seconds=60)

    DBOS(config=config)
    DBOS.launch()
    handle = DBOS.start_workflow(patient)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    args = ["send", system_database_url, pg_schema, handle.workflow_id, "hi", "cross"]
    sender = subprocess.Popen(
        [sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, text=True, env=env
    )
    assert sender.stdout is not None
    assert sender.stdout.readline().strip() == "sent"
    sent_at = time.monotonic()
    assert handle.get_result() == "hi"
    woke_after = time.monotonic() - sent_at
    sender.communicate(timeout=30)
    # Without a notification the waiter would re-read only after NOTIFIED_RECHECK_SECONDS.
    assert woke_after < NOTIFIED_RECHECK_SECONDS / 2
