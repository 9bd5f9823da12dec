"""Shared fixtures: a fresh hub home, a capturing relay, partners with real keys made here."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from crypto.openpgp.gpg_process import stop_agent

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
INTEROP = SHARED / "interop" / "schleuder"


def kill_agents(root: Path) -> None:
    """Stop every gpg-agent started for a GnuPG home under *root* (the system's gpgconf, by its path)."""
    for home in [root, *root.rglob("*")]:
        if home.is_dir() and ((home / "pubring.kbx").exists() or (home / "private-keys-v1.d").exists()):
            stop_agent(home)


@pytest.fixture(autouse=True)
def _agents_under_tmp_path(request):
    """A test that made GnuPG homes under pytest's tmp_path (copies of a hub's home, say) leaves no agent."""
    yield
    made = request.node.funcargs.get("tmp_path") if hasattr(request.node, "funcargs") else None
    if made is not None:  # pytest keeps the directory past the test: its homes are still there
        kill_agents(made)


@pytest.fixture
def db(tmp_path):
    """A fresh store at the schema's head: SQLite under tmp_path, or a fresh PostgreSQL database in the second pass."""
    from store import Database, upgrade
    from tests.support import stores

    database = Database(stores.fresh_url(tmp_path))
    upgrade(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def short_tmp():
    """A short temporary directory (gpg-agent socket paths must stay under ~100 characters)."""
    path = Path(tempfile.mkdtemp(prefix="pt"))
    yield path
    kill_agents(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def module_tmp():
    path = Path(tempfile.mkdtemp(prefix="pm"))
    yield path
    kill_agents(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def _module_databases():
    """PostgreSQL databases a module's fixtures made are dropped after the module."""
    from tests.support import stores

    mark = len(stores.created)
    yield
    stores.drop_since(mark)


@pytest.fixture(autouse=True)
def _test_databases():
    """PostgreSQL databases a test made are dropped after it."""
    from tests.support import stores

    mark = len(stores.created)
    yield
    stores.drop_since(mark)


def pytest_sessionfinish(session, exitstatus):
    from tests.support import postgres

    postgres.stop_shared()


@pytest.fixture(scope="session")
def rabbitmq():
    """A real RabbitMQ node on loopback for the whole session (installed by `make system-deps`)."""
    from tests.support.rabbitmq import Broker, available

    if not available():
        pytest.fail("rabbitmq-server is not installed: run `make system-deps`")
    with Broker() as broker:
        yield broker


@pytest.fixture(scope="session", autouse=True)
def _transport_under_test(request):
    """PASSERELLE_TEST_TRANSPORT=amqp: every hub home the tests make uses RabbitMQ (a session node)."""
    if os.environ.get("PASSERELLE_TEST_TRANSPORT", "embedded") != "amqp":
        yield
        return
    broker = request.getfixturevalue("rabbitmq")
    os.environ["PASSERELLE_TEST_AMQP_URL"] = broker.url
    try:
        yield
    finally:
        os.environ.pop("PASSERELLE_TEST_AMQP_URL", None)


@pytest.fixture
def processes():
    """`serve` processes a test starts (tests.hub.transport.test_amqp_faults.Serve): stopped at the end, whatever happened."""
    started: list = []
    yield started
    for process in started:
        process.stop()
