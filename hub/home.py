"""The hub's home: creating its identity (OpenPGP key, TLS certificate, storage key, store, settings)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from crypto import Gpg, StorageKey, make_self_signed
from store import Database, upgrade
from store.vocabulary import Action

from . import audit
from .clock import Clock, SystemClock
from .errors import HomeError, PartnerError
from .registry import members
from .settings import SETTINGS_FILE, Settings, load

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """What init created, to show whoever ran it."""

    home: Path
    address: str
    fingerprint: str
    tls_fingerprint: str
    director: str | None = None  # the fingerprint of the director's key
    tls_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Director:
    """The first member, registered by init (law Art. 7): name, address, public key."""

    name: str
    email: str
    key: bytes


def local_actor(what: str) -> str:
    """Who an act nobody signs is recorded under: what was done and the login that did it (making the hub)."""
    return f"{what}:{os.environ.get('USER', 'unknown')}"


def open_gpg(settings: Settings) -> Gpg:
    """The hub's GnuPG home, run as its [crypto] settings say."""
    c = settings.crypto
    return Gpg(settings.gnupg_home, binary=c.gpg_binary, timeout_seconds=c.gpg_timeout_seconds, in_process=c.in_process,
               max_plaintext_bytes=settings.gateway.max_message_bytes, max_signature_bytes=c.max_signature_bytes,
               max_session_keys=c.max_session_keys)


def exists(home: Path) -> bool:
    return (home / SETTINGS_FILE).exists() or (home / "keys" / "storage.key").exists()


def init(home: Path, domain: str, *, address: str | None = None, hub_key: bytes | None = None,
         clock: Clock | None = None, store_url: str | None = None, director: Director | None = None,
         tls_names: tuple[str, ...] = ()) -> Identity:
    """Create a new hub identity in *home*; refuses to overwrite an existing one.

    The self-signed TLS certificate names *tls_names* (the names partners connect by; the first is its common
    name), the domain, localhost and 127.0.0.1.

    *store_url* (or PASSERELLE_STORE__URL) puts the store in that database (PostgreSQL) instead of
    HOME/passerelle.db; it is migrated to the head and recorded in the home's settings. *director* is registered
    as the first member (every later member, partner and recipient is registered under a member's signature).
    """
    from hub.deploy.tls import host_names

    clock = clock or SystemClock()
    tls_names = host_names(tls_names)
    home = home.expanduser().resolve()
    if exists(home):
        raise HomeError(f"{home} already holds a Passerelle identity; refusing to overwrite it")
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    address = (address or f"hub@{domain}").lower()
    settings = load(home)
    store_url = store_url or settings.store.url
    gpg = Gpg(settings.gnupg_home, binary=settings.crypto.gpg_binary)
    if director is not None:
        try:
            members.check_director(gpg, clock.now(), email=director.email, key_data=director.key)
        except PartnerError as exc:
            raise HomeError(f"the director cannot be registered: {exc}") from exc
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
    tls_fingerprint = make_self_signed(tls_names[0] if tls_names else domain, settings.tls_cert, settings.tls_key,
                                       names=(domain, *tls_names))
    db = Database(store_url or settings.database_url)
    actor = local_actor("init")
    try:
        upgrade(db.engine)
        with db.unit_of_work() as uow:
            audit.record(uow, clock, Action.HUB_INITIALISED, actor=actor, address=address, key=fingerprint,
                         tls=tls_fingerprint, tls_names=[*tls_names, domain])
            boss = (members.register_director(uow, gpg, clock, name=director.name, email=director.email,
                                              key_data=director.key, actor=actor) if director else None)
            uow.commit()
            boss_key = boss.fingerprint if boss else None
    except PartnerError as exc:
        raise HomeError(f"the director cannot be registered: {exc}") from exc
    finally:
        db.dispose()
    _write_settings(home / SETTINGS_FILE, domain, address, fingerprint, store_url)
    from hub.deploy.tls import current

    return Identity(home, address, fingerprint, tls_fingerprint, boss_key, current(settings).names)


# What init writes of each section: the fields an operator sets first, each with its default and description from
# the settings schema (hub/settings.py), so that a default is written once; every other field: README,
# "Configuration".
WRITTEN = {"gateway": ("listen", "require_starttls", "max_message_bytes"), "delivery": ("relay",),
           "metrics": ("listen",), "log": ("format",), "transport": ("url",)}
NOTES = {"deadlines": ("The delays are the law's (AR Art. 11 §3, Art. 7, 8): not settings. A shorter agreed window, "
                       "stated as a deviation in every receipt: deviation_windows = { URGENT = \"P2D\" } with "
                       "deviation_basis = \"...\".")}


def _toml(value) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, (int, float)) else json.dumps(str(value))


def _comment(text: str, width: int = 110) -> list[str]:
    lines, line = [], "#"
    for word in text.split():
        if len(line) + 1 + len(word) > width:
            lines.append(line)
            line = "#"
        line += " " + word
    return [*lines, line]


def settings_template(domain: str, address: str, fingerprint: str, store_url: str | None) -> str:
    """The passerelle.toml that init writes: the hub's identity, then the first fields of each section from the
    schema (WRITTEN), with their descriptions."""
    out = ["# Passerelle settings. Every field and its default: README.md, \"Configuration\".",
           "# Environment variables override this file: PASSERELLE_<SECTION>__<FIELD>, e.g. PASSERELLE_GATEWAY__LISTEN.",
           "", "[hub]", f"domain = {_toml(domain)}", f"address = {_toml(address)}",
           f"key_fingerprint = {_toml(fingerprint)}"]
    for name, info in Settings.model_fields.items():
        if name not in WRITTEN and name not in NOTES:
            continue
        out += ["", f"[{name}]"] + (_comment(NOTES[name]) if name in NOTES else [])
        section = info.annotation.model_fields
        for field in WRITTEN.get(name, ()):
            out += _comment(section[field].description or "") + [f"{field} = {_toml(section[field].default)}"]
    if store_url:
        out += ["", "[store]", f"url = {_toml(store_url)}"]
    return "\n".join(out) + "\n"


def _write_settings(path: Path, domain: str, address: str, fingerprint: str, store_url: str | None) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(settings_template(domain, address, fingerprint, store_url))


def require(settings: Settings) -> None:
    """Refuse to run on a home that was never initialised."""
    if not (settings.home / SETTINGS_FILE).exists():
        raise HomeError(f"{settings.home} is not a Passerelle home: run 'passerelle init --home {settings.home} --domain DOMAIN'")
