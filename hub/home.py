"""The hub's home: creating its identity (OpenPGP key, TLS certificate, storage key, store, settings)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from crypto import Gpg, StorageKey, make_self_signed
from store import Database, upgrade

from . import audit
from .clock import Clock, SystemClock
from .errors import HomeError
from .settings import SETTINGS_FILE, Settings, load

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """What init created, to show the operator."""

    home: Path
    address: str
    fingerprint: str
    tls_fingerprint: str


def open_gpg(settings: Settings) -> Gpg:
    """The hub's GnuPG home, run as its [crypto] settings say."""
    c = settings.crypto
    return Gpg(settings.gnupg_home, binary=c.gpg_binary, timeout_seconds=c.gpg_timeout_seconds, in_process=c.in_process,
               max_plaintext_bytes=settings.gateway.max_message_bytes, max_signature_bytes=c.max_signature_bytes,
               max_session_keys=c.max_session_keys)


def exists(home: Path) -> bool:
    return (home / SETTINGS_FILE).exists() or (home / "keys" / "storage.key").exists()


def init(home: Path, domain: str, *, address: str | None = None, hub_key: bytes | None = None,
         clock: Clock | None = None, store_url: str | None = None) -> Identity:
    """Create a new hub identity in *home*; refuses to overwrite an existing one.

    *store_url* (or PASSERELLE_STORE__URL) puts the store in that database (PostgreSQL) instead of
    HOME/passerelle.db; it is migrated to the head and recorded in the home's settings.
    """
    clock = clock or SystemClock()
    home = home.expanduser().resolve()
    if exists(home):
        raise HomeError(f"{home} already holds a Passerelle identity; refusing to overwrite it")
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    address = (address or f"hub@{domain}").lower()
    settings = load(home)
    store_url = store_url or settings.store.url
    gpg = Gpg(settings.gnupg_home, binary=settings.crypto.gpg_binary)
    if hub_key is not None:
        fingerprint = gpg.import_secret_key(hub_key)
        info = gpg.key(fingerprint)
        if info is None or address not in info.emails:
            raise HomeError(f"the given hub key has no user id for {address}")
    else:
        fingerprint = gpg.generate_key(f"Passerelle hub <{address}>")
    (home / "keys").mkdir(mode=0o700, exist_ok=True)
    StorageKey.generate().save(settings.storage_key_path)
    settings.tls_cert.parent.mkdir(mode=0o700, exist_ok=True)
    tls_fingerprint = make_self_signed(domain, settings.tls_cert, settings.tls_key)
    db = Database(store_url or settings.database_url)
    try:
        upgrade(db.engine)
        with db.unit_of_work() as uow:
            audit.record(uow, clock, "hub.initialised", actor="operator", address=address, key=fingerprint,
                         tls=tls_fingerprint)
            uow.commit()
    finally:
        db.dispose()
    _write_settings(home / SETTINGS_FILE, domain, address, fingerprint, store_url)
    return Identity(home, address, fingerprint, tls_fingerprint)


def _write_settings(path: Path, domain: str, address: str, fingerprint: str, store_url: str | None) -> None:
    text = f"""# Passerelle settings. Every field and its default: README.md, "Configuration".
# Environment variables override this file: PASSERELLE_<SECTION>__<FIELD>, e.g. PASSERELLE_GATEWAY__LISTEN.

[hub]
domain = "{domain}"
address = "{address}"
key_fingerprint = "{fingerprint}"

[gateway]
listen = "127.0.0.1:2525"
require_starttls = true
max_message_bytes = 26214400

[delivery]
relay = "127.0.0.1:25"

[deadlines]
# The delays are the law's (AR Art. 11 §3, Art. 7, 8): not settings. A shorter agreed window, stated as a
# deviation in every receipt: deviation_windows = {{ URGENT = "P2D" }} with deviation_basis = "...".

[metrics]
# This process's Prometheus endpoint (/metrics). Several processes on one machine: one port each
# (passerelle serve --metrics-listen HOST:PORT). Empty: no endpoint.
listen = "127.0.0.1:9464"

[log]
# text, or json: one JSON object per line (journald, ELK); `passerelle --log-format` overrides it.
format = "text"

[transport]
# Empty: embedded (one process). RabbitMQ: "amqp://USER:PASS@HOST:5672/" (comma-separated for a cluster).
url = ""
"""
    if store_url:
        text += f"""
[store]
url = {json.dumps(store_url)}
"""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def require(settings: Settings) -> None:
    """Refuse to run on a home that was never initialised."""
    if not (settings.home / SETTINGS_FILE).exists():
        raise HomeError(f"{settings.home} is not a Passerelle home: run 'passerelle init --home {settings.home} --domain DOMAIN'")
