"""`passerelle backup` of a live hub and `passerelle restore` into a new home, through the real CLI: the archive is
encrypted to the backup key alone (0600, nothing in clear), the restored hub passes `audit verify`, and a message
accepted before the backup but not yet receipted gets its receipt from the restored hub. A damaged archive,
another key, a hostile member, a home or a database already in use: refused, nothing left behind."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from gateway.capture import CaptureRelay
from tests.hub.ops.serving import Served, until
from tests.hub.ops.test_metrics import _send
from tests.hub.rig import home_with_police, reference_in, signed
from tests.support import stores
from tests.support.keys import gpg, make_key


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def backup_key(short_tmp):
    """The backup key: its public half in a file, its secret in its own GnuPG home."""
    key = make_key(short_tmp, "backup@ocam.test", name="Backup")
    path = short_tmp / "backup-key.asc"
    path.write_bytes(key.public)
    return key, path


def _target() -> tuple[str, ...]:
    """Restore into the kind of store the suite runs on: an empty PostgreSQL database, or the new home's SQLite."""
    return ("--store-url", stores.fresh_postgres(migrated=False)) if stores.on_postgres() else ()


def _references(home: Path) -> list[str]:
    listed = cli("messages", "list", "--json", "--home", str(home))
    assert listed.returncode == 0, listed.stderr
    return sorted(r["reference"] for r in json.loads(listed.stdout))


def _receipts(relay: CaptureRelay) -> list[str]:
    return sorted(m.message["X-Passerelle-Reference"] for m in relay.messages)


def test_a_live_hub_restored_into_a_new_home_verifies_and_sends_the_receipts_it_owed(short_tmp, backup_key):
    key, key_file = backup_key
    home, police = home_with_police(short_tmp)
    with CaptureRelay() as dead:
        nowhere = dead.address  # nothing listens there once closed: the receipts wait in the queue
    live = Served(home.settings.home, nowhere, metrics=False,
                  PASSERELLE_DELIVERY__RETRY_SCHEDULE_SECONDS="[3600]").wait_ready()
    archive = short_tmp / "hub.backup"
    try:
        owed = sorted(reference_in(_send(live.port, signed(police), police.email)[1]) for _ in range(2))
        db = home.db()
        until(lambda: _tried(db), lambda n: n == 2)
        db.dispose()
        made = cli("backup", "--home", str(home.settings.home), "--out", str(archive), "--to", str(key_file))
        assert made.returncode == 0, made.stderr
        after = reference_in(_send(live.port, signed(police), police.email)[1])  # not in the archive
    finally:
        live.stop()
    assert f"encrypted to  {key.fingerprint}" in made.stdout
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    data = archive.read_bytes()
    assert data[0] & 0x80 and not data.startswith(b"\x1f\x8b")  # an OpenPGP packet, not a gzip stream
    for secret in (home.settings.storage_key_path.read_bytes().strip(), b"PRIVATE KEY", b"passerelle.toml"):
        assert secret not in data
    assert not [p.name for p in home.settings.home.iterdir() if p.name.startswith(".backup-")]
    # By hand, as an operator would without Passerelle: gpg, then tar; the manifest first.
    listing = subprocess.run(f"gpg --homedir {key.home} --batch --quiet --decrypt {archive} | tar tz",
                             shell=True, capture_output=True, text=True, timeout=120)
    names = listing.stdout.split()
    assert names[0] == "manifest.json" and names[-1] == "digests.json", listing.stderr
    assert {"home/passerelle.toml", "home/keys/storage.key", "home/tls/key.pem", "home/tls/cert.pem"} <= set(names)
    assert any(n.startswith("home/gnupg/private-keys-v1.d/") for n in names)
    assert not any(n.rsplit("/", 1)[-1].startswith("S.") for n in names)  # no agent socket

    new = short_tmp / "restored"
    restored = cli("restore", str(archive), "--home", str(new), "--key-home", str(key.home), *_target())
    assert restored.returncode == 0, restored.stderr
    assert "queued again" in restored.stdout
    verified = cli("audit", "verify", "--home", str(new))
    assert verified.returncode == 0 and "audit log intact" in verified.stdout, verified.stderr
    assert _references(new) == owed and after not in owed
    assert stat.S_IMODE((new / "keys" / "storage.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(new.stat().st_mode) == 0o700
    with CaptureRelay() as relay:
        again = Served(new, relay.address, metrics=False).wait_ready()
        try:
            until(lambda: _receipts(relay), lambda got: got == owed)
            assert _send(again.port, signed(police), police.email)[0] == 250  # it serves on as the same hub
            relay.wait_for(3)
            time.sleep(1)  # a second receipt for the same message would have come by now
        finally:
            again.stop()
    assert _receipts(relay)[:2] == owed and len(relay.messages) == 3
    events = cli("messages", "show", owed[0], "--json", "--home", str(new))
    assert json.loads(events.stdout)["receipt_status"] == "sent"
    verified = cli("audit", "verify", "--home", str(new))
    assert verified.returncode == 0, verified.stderr


def _tried(db) -> int:
    """Receipts the live hub tried to deliver (and could not)."""
    with db.reader() as uow:
        return sum(1 for e in uow.audit.recent(action="receipt.deferred"))


def test_restore_moves_the_store_to_the_other_kind(short_tmp, backup_key):
    """SQLite to an empty PostgreSQL database, or PostgreSQL to SQLite in the new home: the same messages, the
    same audit chain, intact."""
    key, key_file = backup_key
    home, police = home_with_police(short_tmp)
    with CaptureRelay() as relay:
        live = Served(home.settings.home, relay.address, metrics=False).wait_ready()
        try:
            sent = sorted(reference_in(_send(live.port, signed(police), police.email)[1]) for _ in range(3))
            relay.wait_for(3)
        finally:
            live.stop()
    archive = short_tmp / "hub.backup"
    assert cli("backup", "--home", str(home.settings.home), "--out", str(archive), "--to", str(key_file)).returncode == 0
    other = () if stores.on_postgres() else ("--store-url", stores.fresh_postgres(migrated=False))
    new = short_tmp / "moved"
    restored = cli("restore", str(archive), "--home", str(new), "--key-home", str(key.home), *other)
    assert restored.returncode == 0, restored.stderr
    assert ("postgresql" in (new / "passerelle.toml").read_text()) == (not stores.on_postgres())
    assert cli("audit", "verify", "--home", str(new)).stdout.strip().endswith("audit log intact")
    assert _references(new) == sent == _references(home.settings.home)


def _refused(result: subprocess.CompletedProcess, new: Path, *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    for word in words:
        assert word in result.stderr
    assert not new.exists() or not any(new.iterdir())


def test_a_damaged_archive_another_key_or_a_used_home_is_refused(short_tmp, backup_key):
    key, key_file = backup_key
    home, _ = home_with_police(short_tmp)
    archive = short_tmp / "hub.backup"
    assert cli("backup", "--home", str(home.settings.home), "--out", str(archive), "--to", str(key_file)).returncode == 0
    again = cli("backup", "--home", str(home.settings.home), "--out", str(archive), "--to", str(key_file))
    assert again.returncode == 2 and "File exists" in again.stderr or "exists" in again.stderr
    stranger = make_key(short_tmp, "stranger@ocam.test")
    new = short_tmp / "new"
    _refused(cli("restore", str(archive), "--home", str(new), "--key-home", str(stranger.home)), new,
             "could not decrypt")
    damaged = short_tmp / "damaged.backup"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x40
    damaged.write_bytes(bytes(data))
    _refused(cli("restore", str(damaged), "--home", str(new), "--key-home", str(key.home)), new)
    cut = short_tmp / "cut.backup"
    cut.write_bytes(archive.read_bytes()[: len(data) * 2 // 3])
    _refused(cli("restore", str(cut), "--home", str(new), "--key-home", str(key.home)), new)
    used = short_tmp / "used"
    used.mkdir()
    (used / "something").write_text("mine")
    refused = cli("restore", str(archive), "--home", str(used), "--key-home", str(key.home))
    assert refused.returncode == 2 and "is not empty" in refused.stderr
    assert (used / "something").read_text() == "mine"
    two = short_tmp / "two-keys.asc"
    two.write_bytes(key.public + stranger.public)
    refused = cli("backup", "--home", str(home.settings.home), "--out", str(short_tmp / "x"), "--to", str(two))
    assert refused.returncode == 2 and "holds 2 public keys" in refused.stderr
    assert not (short_tmp / "x").exists()


def test_a_database_in_use_is_never_restored_into(short_tmp, backup_key):
    """--store-url naming a database that holds tables: refused before anything is written, its rows untouched."""
    key, key_file = backup_key
    home, _ = home_with_police(short_tmp)
    archive = short_tmp / "hub.backup"
    assert cli("backup", "--home", str(home.settings.home), "--out", str(archive), "--to", str(key_file)).returncode == 0
    in_use = stores.fresh_postgres()  # migrated: it has the hub's tables
    from store import Database

    db = Database(in_use)
    with db.unit_of_work() as uow:
        from hub import audit
        from hub.clock import SystemClock

        audit.record(uow, SystemClock(), "hub.initialised", actor="other hub")
        uow.commit()
    new = short_tmp / "new"
    _refused(cli("restore", str(archive), "--home", str(new), "--key-home", str(key.home), "--store-url", in_use),
             new, "is not empty")
    with db.reader() as uow:
        assert [e.actor for e in uow.audit.recent()] == ["other hub"]
    db.dispose()


def _hostile(key_file: Path, out: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    """An archive encrypted to the backup key whose members an attacker chose."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        manifest = json.dumps({"format": 1, "store": "sqlite", "revision": None, "made_at": "2026-01-01T00:00:00+00:00",
                               "hub": "hub@ocam.test"}).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data else None)
    home = out.parent / "hostile-gpg"
    home.mkdir(mode=0o700, exist_ok=True)
    out.write_bytes(gpg(home, "--encrypt", "--recipient-file", str(key_file), data=buffer.getvalue()))


@pytest.mark.parametrize("name,kind", [("home/../../escaped", tarfile.REGTYPE), ("/tmp/absolute", tarfile.REGTYPE),
                                       ("home/gnupg/link", tarfile.SYMTYPE), ("home/.ssh/authorized_keys",
                                                                             tarfile.REGTYPE)])
def test_a_hostile_member_is_refused_and_nothing_is_written(short_tmp, backup_key, name, kind):
    key, key_file = backup_key
    info = tarfile.TarInfo(name)
    info.type = kind
    data = b"" if kind == tarfile.SYMTYPE else b"owned\n"
    info.size = len(data)
    if kind == tarfile.SYMTYPE:
        info.linkname = "/etc/passwd"
    archive = short_tmp / "hostile.backup"
    _hostile(key_file, archive, [(info, data)])
    new = short_tmp / "a" / "new"
    _refused(cli("restore", str(archive), "--home", str(new), "--key-home", str(key.home)), new, "archive holds")
    assert not (short_tmp / "escaped").exists() and not (short_tmp / "a" / "escaped").exists()
    assert not Path("/tmp/absolute").exists()
    assert os.listdir(short_tmp / "a") == []
