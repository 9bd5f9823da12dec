"""The gateway's certificate in the home: the names it may carry, what the home holds now, and installing one
from the organisation's CA (checked, 0600, recorded); the serving processes present it after SIGHUP or a
restart."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import ssl
from pathlib import Path

from crypto import CertificateRefused
from crypto.tls import Certificate, check_pair, read_certificate
from store import Database
from store.vocabulary import Action

from hub import audit
from hub.clock import Clock
from hub.errors import HomeError, TlsError
from hub.settings import Settings

log = logging.getLogger(__name__)

_HOST = re.compile(r"(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


def host_names(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The names a certificate of init may carry: host names (a wildcard as its first label) or IP addresses."""
    out = []
    for name in names:
        name = name.strip().lower().rstrip(".")
        try:
            out.append(str(ipaddress.ip_address(name)))
            continue
        except ValueError:
            pass
        if len(name) > 253 or not _HOST.fullmatch(name):
            raise HomeError(f"--tls-name {name!r} is neither a host name nor an IP address")
        out.append(name)
    return tuple(dict.fromkeys(out))


def current(settings: Settings) -> Certificate:
    """The certificate the home holds (HOME/tls/cert.pem): the one `serve` presents once started or reloaded."""
    try:
        return read_certificate(settings.tls_cert.read_bytes())
    except (OSError, CertificateRefused) as exc:
        raise TlsError(f"{settings.tls_cert}: {exc}") from exc


def install(settings: Settings, db: Database, clock: Clock, *, cert_pem: bytes, key_pem: bytes,
            chain_pem: bytes | None, actor: str = "operator", signed: dict | None = None) -> Certificate:
    """Check the certificate, its key and chain (crypto.tls.check_pair, then loaded as the gateway loads them),
    write them as HOME/tls/cert.pem (the certificate, then its chain) and key.pem, both 0600, and record
    ``tls.installed``. *actor* and *signed* (the operator's signed act, when there is one: its statement's
    digest and signature) go into that record."""
    try:
        checked = check_pair(cert_pem, key_pem, chain_pem, clock.now())
    except CertificateRefused as exc:
        raise TlsError(exc.reason) from exc
    folder = settings.tls_cert.parent
    folder.mkdir(mode=0o700, exist_ok=True)
    new_cert, new_key = folder / "cert.pem.new", folder / "key.pem.new"
    try:
        _write(new_cert, checked.chain_pem)
        _write(new_key, checked.key_pem)
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(new_cert, new_key)
        except ssl.SSLError as exc:
            raise TlsError(f"the gateway's TLS library cannot load them: {exc}") from exc
        previous = None
        try:
            previous = current(settings).fingerprint
        except TlsError:
            pass
        with db.unit_of_work() as uow:
            audit.record(uow, clock, Action.TLS_INSTALLED, actor=actor, fingerprint=checked.certificate.fingerprint,
                         previous=previous, names=list(checked.certificate.names), issuer=checked.certificate.issuer,
                         not_after=checked.certificate.not_after.isoformat(), **(signed or {}))
            uow.commit()
        os.replace(new_key, settings.tls_key)
        os.replace(new_cert, settings.tls_cert)
    finally:
        for leftover in (new_cert, new_key):
            leftover.unlink(missing_ok=True)
    log.info("tls: certificate %s installed (%s), until %s", checked.certificate.fingerprint[:16],
             ", ".join(checked.certificate.names), checked.certificate.not_after.date())
    return checked.certificate


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
