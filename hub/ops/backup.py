"""`passerelle backup`: one archive of a live hub — a consistent snapshot of its store, its keys (GnuPG home,
storage key, TLS key and certificate) and its settings — as a tar stream encrypted to a named backup key.

Layout of the tar (gzip) inside the OpenPGP message: `manifest.json` first (what and when: hub, key, store,
migration revision), then `home/...` (passerelle.toml, keys/, tls/, gnupg/ without its sockets and locks), then
the store (`store/passerelle.db`, SQLite's own snapshot, or `store/tables-NNNNN.jsonl`, every table of one
transaction), then `digests.json` (SHA-256 of every member). `gpg --decrypt FILE | tar xz` opens it by hand.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import sqlite3
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from store import Database
from store.vocabulary import Action

from hub import audit
from hub.clock import Clock
from hub.settings import Settings
from .archive import BackupKey, encrypted_to, read_key
from .snapshot import dump_lines, revision, sqlite_copy, sqlite_file

FORMAT = 1
MANIFEST = "manifest.json"
DIGESTS = "digests.json"
HOME_PARTS = ("passerelle.toml", "keys", "tls", "gnupg")  # what of the home is the hub's identity
_GNUPG_SKIPPED = ("S.", ".#lk", "random_seed")  # agent sockets, lock files, gpg's seed (made anew)
_CHUNK = 8 << 20  # bytes of JSON lines per tar member (a member's size comes before its bytes)


@dataclass(frozen=True)
class Made:
    """What `backup` wrote."""

    path: Path
    key: BackupKey
    size: int
    store: str  # sqlite | postgresql
    revision: str | None
    members: int


class _Writer:
    """Members into the tar stream, each one's SHA-256 noted for the digests member."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.digests: dict[str, str] = {}
        self.now = int(time.time())

    def data(self, name: str, data: bytes, mode: int = 0o600) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), mode, self.now
        self.tar.addfile(info, io.BytesIO(data))
        self.digests[name] = hashlib.sha256(data).hexdigest()

    def file(self, name: str, path: Path) -> None:
        """A file too large to hold in memory (the store's snapshot), read as it is added."""
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = path.stat().st_size, 0o600, self.now
        with open(path, "rb") as handle:
            hashing = _Hashing(handle)
            self.tar.addfile(info, hashing)
        self.digests[name] = hashing.sha256.hexdigest()

    def home(self, home: Path) -> None:
        for part in HOME_PARTS:
            top = home / part
            paths = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
            for path in paths:
                if path.is_symlink() or (part == "gnupg" and path.name.startswith(_GNUPG_SKIPPED)):
                    continue
                self.data(f"home/{path.relative_to(home).as_posix()}", path.read_bytes())

    def lines(self, prefix: str, lines: Iterator[bytes]) -> None:
        """JSON lines in members of about _CHUNK bytes, each ending at a line's end."""
        buffer, number = io.BytesIO(), 0
        for line in lines:
            buffer.write(line)
            if buffer.tell() >= _CHUNK:
                number += 1
                self.data(f"{prefix}-{number:05d}.jsonl", buffer.getvalue())
                buffer = io.BytesIO()
        if buffer.tell():
            number += 1
            self.data(f"{prefix}-{number:05d}.jsonl", buffer.getvalue())


class _Hashing(io.RawIOBase):
    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        self.sha256.update(chunk)
        return chunk


def backup(settings: Settings, out: Path, key_file: Path, *, clock: Clock, actor: str) -> Made:
    """Write the archive of the hub of *settings* to *out* (0600, refused if it exists), encrypted to the key in
    *key_file*; record it in the audit log."""
    gpg = settings.crypto.gpg_binary
    key = read_key(key_file, gpg=gpg)
    db = Database(settings.database_url, busy_timeout_seconds=settings.store.busy_timeout_seconds)
    sqlite = sqlite_file(settings.database_url)
    store = "sqlite" if sqlite else db.dialect
    try:
        with encrypted_to(key_file, out, gpg=gpg) as stream, tarfile.open(fileobj=stream, mode="w|gz") as tar:
            writer = _Writer(tar)

            def manifest(rev: str | None) -> None:
                writer.data(MANIFEST, json.dumps({
                    "format": FORMAT, "made_at": clock.now().isoformat(), "hub": settings.hub.address,
                    "hub_key": settings.hub.key_fingerprint, "store": store, "revision": rev,
                    "backup_key": key.fingerprint}, indent=1).encode())

            if sqlite is not None:
                rev = _sqlite_snapshot(sqlite, writer, settings, manifest)
            else:
                with db.engine.connect() as connection:
                    connection = connection.execution_options(isolation_level="REPEATABLE READ",
                                                              postgresql_readonly=True)
                    with connection.begin():
                        rev = revision(connection)
                        manifest(rev)
                        writer.home(settings.home)
                        writer.lines("store/tables", dump_lines(connection))
            writer.data(DIGESTS, json.dumps(writer.digests, indent=1).encode())
            members = len(writer.digests)
        size = out.stat().st_size
        with db.unit_of_work() as uow:
            audit.record(uow, clock, Action.HUB_BACKED_UP, actor=actor, file=out.name, size=size, key=key.fingerprint,
                         store=store, revision=rev)
            uow.commit()
    finally:
        db.dispose()
    return Made(out, key, size, store, rev, members + 1)


def _sqlite_snapshot(live: Path, writer: _Writer, settings: Settings, manifest) -> str | None:
    """SQLite: the online backup into a file beside the store's own (same directory, 0600: no copy anywhere the
    store itself is not), streamed into the archive, then removed."""
    snapshot = live.parent / f".backup-{os.getpid()}-{secrets.token_hex(4)}.db"
    try:
        sqlite_copy(live, snapshot)
        connection = sqlite3.connect(snapshot)
        try:
            found = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            connection.close()
        rev = found[0] if found else None
        manifest(rev)
        writer.home(settings.home)
        writer.file("store/passerelle.db", snapshot)
        return rev
    finally:
        snapshot.unlink(missing_ok=True)
