"""`passerelle partner kit`: everything a registered contact point needs to send to the hub, and nothing secret —
the hub's public key and fingerprint, the certificate STARTTLS presents, client settings (hub/deploy/clients.py),
a first test message."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from crypto import Gpg
from crypto.tls import Certificate
from store import Database
from store.vocabulary import Action

from hub import audit
from hub.clock import Clock, brussels
from hub.errors import PartnerError
from hub.settings import Settings, host_port

from . import clients
from .tls import current

log = logging.getLogger(__name__)

LOOPBACK = ("localhost", "127.0.0.1", "::1")
DEFAULT_KIT_DIR = "~/.passerelle"
SECRET_MARKS = (b"PRIVATE KEY", b"PGP PRIVATE")  # what no file of a kit may hold


@dataclass(frozen=True)
class Kit:
    folder: Path
    files: tuple[str, ...]
    hub_fingerprint: str
    previous_fingerprint: str | None  # the hub's previous key, during a rotation's overlap
    certificate: Certificate
    host: str
    port: int


def default_host(settings: Settings, certificate: Certificate) -> str:
    """The name partners connect by: the certificate's first name that is not a loopback one, else the domain."""
    return next((n for n in certificate.names if n not in LOOPBACK and not n.startswith("*")), settings.hub.domain)


def write(settings: Settings, db: Database, gpg: Gpg, clock: Clock, *, partner: str, out: Path,
          host: str | None = None, port: int | None = None, kit_dir: str = DEFAULT_KIT_DIR,
          actor: str = "operator", signed: dict | None = None) -> Kit:
    """Write the kit of *partner* into *out* (a new or empty folder) and record ``partner.kit_written`` (*actor*,
    and the operator's signed act when there is one: *signed*)."""
    with db.reader() as uow:
        row = uow.partners.by_name(partner)
        if row is None:
            raise PartnerError(f"no partner named {partner!r} is registered")
        if row.key_revoked:
            raise PartnerError(f"{partner}'s key is revoked: register its new key first (partner update-key)")
        name, email, key = row.name, row.email, row.fingerprint
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PartnerError(f"{out} exists and is not an empty folder: the kit is never written over anything")
    certificate = current(settings)
    hub = settings.hub
    now = clock.now()
    previous = hub.previous_keys[-1] if hub.previous_keys and hub.previous_keys[-1] not in hub.retired_keys(now) \
        else None
    values = clients.Values(name=name, address=email, key=key, hub_address=hub.address,
                            hub_fingerprint=hub.key_fingerprint, host=host or default_host(settings, certificate),
                            port=port or host_port(settings.gateway.listen, 2525)[1], kit_dir=kit_dir.rstrip("/"),
                            cert_sha256=certificate.fingerprint)
    contents: dict[str, bytes] = {"hub-key.asc": gpg.export_public(hub.key_fingerprint),
                                  clients.CERT_FILE: settings.tls_cert.read_bytes()}
    note = ""
    if previous is not None:
        contents["hub-key-previous.asc"] = gpg.export_public(previous)
        until = brussels(hub.previous_key_accepted_until)
        note = (f"  the hub's previous key    {clients.groups(previous)}\n"
                f"    (hub-key-previous.asc: the hub rotated its key; mail encrypted to the previous one is accepted\n"
                f"    until {until}; keep it: it verifies the receipts it signed)\n")
    for file in clients.CLIENT_FILES:
        contents[file] = clients.client_file(file, values).encode()
    contents["README.txt"] = clients.render(
        "kit-readme.txt", values, made=brussels(now), previous=note, cert_names=", ".join(certificate.names),
        cert_until=f"{certificate.not_after:%Y-%m-%d}").encode()
    for file, data in contents.items():
        if any(mark in data for mark in SECRET_MARKS):
            raise PartnerError(f"{file} would hold secret material; nothing written")
    out.mkdir(parents=True, exist_ok=True)
    for file, data in contents.items():
        (out / file).write_bytes(data)
    with db.unit_of_work() as uow:
        audit.record(uow, clock, Action.PARTNER_KIT_WRITTEN, actor=actor, partner=name, hub_key=hub.key_fingerprint,
                     previous_key=previous, tls=certificate.fingerprint, host=values.host, port=values.port,
                     **(signed or {}))
        uow.commit()
    log.info("kit: written for %s into %s (%s:%d)", name, out, values.host, values.port)
    return Kit(out, tuple(contents), hub.key_fingerprint, previous, certificate, values.host, values.port)
