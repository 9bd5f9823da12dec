"""`passerelle restore`: a backup archive into a new home — its keys and settings, its store (SQLite in the new
home, or an empty database named by --store-url), its unfinished work queued again; refused whole, leaving
nothing, when the archive is damaged, encrypted to another key, or holds a member outside a hub's home."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import zlib
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from alembic.util import CommandError
from sqlalchemy import MetaData, select, update

from store import Database, Message, OutboundMail, QueueItem, upgrade
from store.vocabulary import Action, DeliveryState, ItemState, MessageState, Queue

from hub import audit
from hub.clock import Clock
from hub.errors import BackupError, HubError
from hub.home import open_gpg
from hub.settings import SETTINGS_FILE, load
from hub.transport.priorities import priority_of
from hub.transport.protocol import StorePublisher
from .archive import decrypted
from .backup import DIGESTS, FORMAT, HOME_PARTS, MANIFEST
from .snapshot import Loader, copy_tables

SNAPSHOT = "store/passerelle.db"
_TABLES = re.compile(r"store/tables-\d{5}\.jsonl")


@dataclass
class Restored:
    """What `restore` did."""

    home: Path
    manifest: dict[str, Any]
    store: str  # where the store went: "HOME/passerelle.db" or the database's URL without its password
    rows: dict[str, int] = field(default_factory=dict)  # per table, when tables were loaded one by one
    requeued: dict[str, int] = field(default_factory=dict)  # stage -> items queued again


class _Reader:
    """The archive's members, checked one by one and written into the new home or the target store."""

    def __init__(self, home: Path, target: Database, stack: ExitStack) -> None:
        self.home = home
        self.target = target
        self.stack = stack
        self.digests: dict[str, str] = {}
        self.manifest: dict[str, Any] | None = None
        self.expected: dict[str, str] | None = None
        self.loader: Loader | None = None
        self.snapshot: Path | None = None
        self.pending = b""

    def take(self, member: tarfile.TarInfo, data: IO[bytes] | None) -> None:
        name = _checked_name(member)
        if self.expected is not None:
            raise BackupError(f"the archive goes on after its digests ({name})")
        if self.manifest is None and name != MANIFEST:
            raise BackupError("the archive does not start with its manifest: not a Passerelle backup")
        if member.isdir():
            return
        assert data is not None
        digest = hashlib.sha256()
        if name in (MANIFEST, DIGESTS):
            content = data.read()
            digest.update(content)
            self._small(name, content)
        elif name.startswith("home/"):
            self._write(self.home / name.removeprefix("home/"), data, digest)
        elif name == SNAPSHOT and self.manifest["store"] == "sqlite":
            self.snapshot = self.home / ("passerelle.db" if self.target.dialect == "sqlite" else ".restore.db")
            self._write(self.snapshot, data, digest)
        elif _TABLES.fullmatch(name) and self.manifest["store"] != "sqlite":
            self._lines(data, digest)
        else:
            raise BackupError(f"the archive holds {name}, which is no part of a hub's home or store")
        if name != DIGESTS:
            self.digests[name] = digest.hexdigest()

    def _small(self, name: str, content: bytes) -> None:
        value = json.loads(content)
        if name == MANIFEST:
            if value.get("format") != FORMAT or value.get("store") not in ("sqlite", "postgresql"):
                raise BackupError(f"the archive's format {value.get('format')!r} is not one this Passerelle reads")
            self.manifest = value
        else:
            self.expected = value

    def _write(self, path: Path, data: IO[bytes], digest) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            while chunk := data.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)

    def _lines(self, data: IO[bytes], digest) -> None:
        if self.loader is None:  # the first rows: the target's schema at the archive's revision
            _migrate(self.target, self.manifest["revision"])
            connection = self.stack.enter_context(self.target.engine.connect())
            self.stack.enter_context(connection.begin())
            self.loader = Loader(connection)
        while chunk := data.read(1 << 20):
            digest.update(chunk)
            *lines, self.pending = (self.pending + chunk).split(b"\n")
            for line in lines:
                self.loader.feed(line)

    def finish(self) -> dict[str, int]:
        """Every member was there and intact; the store is loaded (its transaction commits when the stack
        closes)."""
        if self.manifest is None or self.expected is None:
            raise BackupError("the archive is cut short: its digests are missing")
        if self.expected != self.digests:
            wrong = sorted(set(self.expected) ^ set(self.digests) | {n for n in self.expected
                                                                     if self.digests.get(n) != self.expected[n]})
            raise BackupError(f"the archive's members do not match its digests: {', '.join(wrong[:5])}")
        if self.pending.strip():
            raise BackupError("the store's dump ends inside a line")
        if self.manifest["store"] == "sqlite" and self.snapshot is None:
            raise BackupError("the archive has no store snapshot")
        return self.loader.finish() if self.loader is not None else {}


def _checked_name(member: tarfile.TarInfo) -> str:
    """A member's name, if it is a plain file or directory inside one of the archive's parts."""
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts or not path.parts or not (member.isfile() or member.isdir()):
        raise BackupError(f"the archive holds {member.name!r}, which is not a plain file inside a hub's home")
    name = path.as_posix()
    top = path.parts[0]
    if name in (MANIFEST, DIGESTS) or (top == "store" and len(path.parts) == 2):
        return name
    if top == "home" and len(path.parts) >= 2 and path.parts[1] in HOME_PARTS:
        return name
    raise BackupError(f"the archive holds {member.name!r}, which is no part of a hub's home or store")


def _migrate(target: Database, revision: str | None) -> None:
    """The empty target's schema at the archive's revision (a revision this code does not know: refused)."""
    try:
        upgrade(target.engine, revision or "base")
    except CommandError as exc:
        raise BackupError(f"the archive's store is at revision {revision}, which this Passerelle does not know "
                          "(made by a newer one?)") from exc


def _tables(target: Database) -> list[str]:
    meta = MetaData()
    meta.reflect(target.engine)
    return list(meta.tables)


def restore(archive: Path, home: Path, key_home: Path, *, clock: Clock, actor: str,
            store_url: str | None = None, gpg: str | None = None) -> Restored:
    """Restore *archive* into the new, empty directory *home*, with the backup key's secret in *key_home*."""
    home = home.expanduser().resolve()
    if home.exists() and any(home.iterdir()):
        raise BackupError(f"{home} is not empty: restore into a new directory")
    made = not home.exists()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    target = Database(store_url or f"sqlite:///{home / 'passerelle.db'}")
    if not store_url:  # the engine made the file empty and private (store/database.py): the snapshot takes its place
        (home / "passerelle.db").unlink(missing_ok=True)
    if store_url and _tables(target):  # before anything is written: a database in use is never touched
        target.dispose()
        if made:
            home.rmdir()
        raise BackupError(f"the target store {target.engine.url.render_as_string(hide_password=True)} is not "
                          "empty: restore into an empty database")
    try:
        with ExitStack() as stack:
            reader = _Reader(home, target, stack)
            try:
                with decrypted(archive, key_home, gpg=gpg) as stream, \
                        tarfile.open(fileobj=stream, mode="r|gz") as tar:
                    for member in tar:
                        reader.take(member, tar.extractfile(member) if member.isfile() else None)
            except (tarfile.TarError, EOFError, zlib.error, json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise BackupError(f"{archive} cannot be read: damaged, cut short, or no Passerelle backup "
                                  f"({type(exc).__name__})") from None
            rows = reader.finish()
        if reader.snapshot is not None and reader.snapshot.name == ".restore.db":  # SQLite into another store
            rows = _from_snapshot(reader.snapshot, target, reader.manifest["revision"])
        upgrade(target.engine)
        _settings_store(home / SETTINGS_FILE, store_url)
        settings = load(home)
        _check_identity(settings)
        requeued = _requeue(target, clock)
        with target.unit_of_work() as uow:
            audit.record(uow, clock, Action.HUB_RESTORED, actor=actor, file=archive.name,
                         made_at=reader.manifest["made_at"], revision=reader.manifest["revision"], requeued=requeued)
            uow.commit()
    except BaseException:
        target.dispose()
        _undo(home, made, store_url)
        raise
    target.dispose()
    where = target.engine.url.render_as_string(hide_password=True) if store_url else str(home / "passerelle.db")
    return Restored(home, reader.manifest, where, rows, requeued)


def _from_snapshot(snapshot: Path, target: Database, revision: str | None) -> dict[str, int]:
    source = Database(f"sqlite:///{snapshot}")
    try:
        _migrate(target, revision)
        with target.engine.begin() as connection:
            return copy_tables(source.engine, connection)
    finally:
        source.dispose()
        snapshot.unlink(missing_ok=True)


def _settings_store(path: Path, store_url: str | None) -> None:
    """The restored settings' [store] url: the target database, or none (SQLite in the home)."""
    if not path.exists():
        raise BackupError("the archive holds no passerelle.toml")
    kept, section, placed = [], "", False
    setting = f"url = {json.dumps(store_url)}" if store_url else None
    for line in path.read_text().splitlines():
        header = re.fullmatch(r"\s*\[([^\]]+)\]\s*(#.*)?", line)
        if header:
            section = header.group(1).strip()
        elif section == "store" and re.match(r"\s*url\s*=", line):
            continue
        kept.append(line)
        if header and section == "store" and setting:
            kept.append(setting)
            placed = True
    if setting and not placed:
        kept += ["", "[store]", setting]
    path.write_text("\n".join(kept) + "\n")
    os.chmod(path, 0o600)


def _check_identity(settings) -> None:
    """The restored home holds the hub's secret key and a readable storage key."""
    from crypto import StorageKey

    try:
        StorageKey.load(settings.storage_key_path)
        gpg = open_gpg(settings)
    except (OSError, ValueError, HubError) as exc:
        raise BackupError(f"the restored home's keys cannot be used: {exc}") from exc
    if not settings.hub.key_fingerprint or not gpg.has_secret(settings.hub.key_fingerprint):
        raise BackupError("the restored GnuPG home lacks the hub's secret key")


def _requeue(target: Database, clock: Clock) -> dict[str, int]:
    """Work the archive's store had not finished, queued again: accepted messages not yet through the pipeline,
    mail not yet taken by the relay. Items already in the store's queue stay (the embedded queue, or RabbitMQ's
    outbox); those that were on a broker are published again (a second copy finds its work done). Mail in
    back-off is due at once: the back-off was the old machine's relay's."""
    publisher = StorePublisher(clock)
    now = clock.now()
    with target.unit_of_work() as uow:
        s = uow.session
        uow.queue.release_all()  # nothing holds a lease in a home nobody serves yet
        s.execute(update(OutboundMail).where(OutboundMail.state == DeliveryState.PENDING).values(next_attempt_at=now))
        s.execute(update(QueueItem).where(QueueItem.queue == Queue.OUTBOUND, QueueItem.state == ItemState.READY)
                  .values(available_at=now))
        queued = {(q, p.get("message_id") or p.get("outbound_id")) for q, p in s.execute(
            select(QueueItem.queue, QueueItem.payload))}
        counts = {Queue.INTAKE.value: 0, Queue.OUTBOUND.value: 0}
        for message_id, urgency in s.execute(select(Message.id, Message.urgency).where(
                Message.state == MessageState.ACCEPTED, Message.direction == "inbound")):
            if (Queue.INTAKE, message_id) not in queued:
                publisher.publish(uow, Queue.INTAKE, {"message_id": message_id}, priority=priority_of(urgency))
                counts[Queue.INTAKE.value] += 1
        for mail_id, priority in s.execute(select(OutboundMail.id, OutboundMail.priority).where(
                OutboundMail.state == DeliveryState.PENDING)):
            if (Queue.OUTBOUND, mail_id) not in queued:
                publisher.publish(uow, Queue.OUTBOUND, {"outbound_id": mail_id}, priority=priority)
                counts[Queue.OUTBOUND.value] += 1
        uow.commit()
    return counts


def _undo(home: Path, made: bool, store_url: str | None) -> None:
    """A failed restore leaves nothing: the new home's content (or the home itself) and, in a target
    database, the tables it created."""
    if store_url:
        target = Database(store_url)
        try:
            meta = MetaData()
            meta.reflect(target.engine)
            meta.drop_all(target.engine)
        except Exception:  # noqa: BLE001 - the restore's own error is the one to report
            pass
        finally:
            target.dispose()
    if made:
        shutil.rmtree(home, ignore_errors=True)
    else:
        for child in home.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
