"""The store's files are the hub's alone (0600): the SQLite database, the -wal and -shm files SQLite adds
once a message is served, and the leader lock files, from `passerelle init` on."""

from __future__ import annotations

import signal
import stat
import uuid

from click.testing import CliRunner
from sqlalchemy import text

from crypto import Gpg
from gateway.capture import CaptureRelay
from hub.cli.main import main
from hub.settings import load
from store import Database
from tests.hub.rig import HUB, HubHome, partner, use_embedded
from tests.support import mail, stores
from tests.support.hubrig import free_port, send_accepted, serve_process

pytestmark = stores.only_sqlite


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _store_files(home) -> list:
    return sorted(p for p in home.iterdir() if p.name.startswith("passerelle.db"))


def _init(root) -> HubHome:
    result = CliRunner().invoke(main, ["init", "--home", str(root / "hub"), "--domain", "ocam.test"])
    assert result.exit_code == 0, result.output
    use_embedded(root / "hub")
    settings = load(root / "hub")
    return HubHome(settings, "", Gpg(settings.gnupg_home))


def test_the_database_is_private_from_init_on(short_tmp):
    """`passerelle init` leaves passerelle.db 0600, whatever the umask lets others read."""
    home = _init(short_tmp)
    files = _store_files(home.settings.home)
    assert home.settings.home / "passerelle.db" in files
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}


def test_wal_shm_and_leader_locks_are_private_after_serving_a_message(short_tmp):
    """A real `passerelle serve` accepts a signed message: the -wal and -shm files SQLite made, and the
    leader lock files, are 0600 like the database (checked while it runs, and after it stopped)."""
    home = _init(short_tmp)
    key = partner(short_tmp, "police")
    home.register(key, "police-fed", "police")
    port = free_port()
    with CaptureRelay() as relay:
        process = serve_process(home.settings.home, port, relay.address)
        try:
            send_accepted(port, mail.signed_mail(key, body=uuid.uuid4().hex), key.email, HUB)
            relay.wait_for(1, timeout=30)  # the receipt: intake and delivery wrote to the store
            running = {p.name: _mode(p) for p in _store_files(home.settings.home)}
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)
    assert {"passerelle.db", "passerelle.db-wal", "passerelle.db-shm", "passerelle.db.leader-embedded-hub",
            "passerelle.db.leader-scheduler"} <= set(running)
    assert running == {name: 0o600 for name in running}
    after = {p.name: _mode(p) for p in _store_files(home.settings.home)}
    assert after == {name: 0o600 for name in after}


def test_files_left_readable_by_an_earlier_version_are_tightened(short_tmp):
    """A store made 0644 (by a version before this one) is 0600 once the hub opens it again."""
    home = _init(short_tmp)
    database = home.settings.home / "passerelle.db"
    db = Database(home.settings.database_url)
    with db.unit_of_work() as uow:  # writes: SQLite makes the -wal and -shm files
        uow.session.execute(text("CREATE TABLE probe (x)"))
        uow.commit()
    for path in _store_files(home.settings.home):
        path.chmod(0o644)
    db.dispose()
    Database(home.settings.database_url).dispose()
    assert _mode(database) == 0o600
    assert all(_mode(p) == 0o600 for p in _store_files(home.settings.home))
