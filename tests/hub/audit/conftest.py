"""One real hub's run for the audit tests: its store, receipts, checkpoint file and witness (tests/hub/audit/rig.py)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.conftest import kill_agents
from tests.hub.audit.rig import run_hub
from tests.support import postgres, stores


@pytest.fixture(scope="package")
def logged():
    root = Path(tempfile.mkdtemp(prefix="pa"))
    mark = len(stores.created)
    ours: list[str] = []
    try:
        run = run_hub(root)
        ours = stores.created[mark:]
        del stores.created[mark:]  # kept past the module that first asked (dropped below, after the package)
        yield run
    finally:
        kill_agents(root)
        shutil.rmtree(root, ignore_errors=True)
        for name in ours:
            postgres.shared().drop_database(name)
