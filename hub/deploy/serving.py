"""What a serving process does for its keys and certificate: read them again on SIGHUP (the hub's key fields of the
settings file, which `hub-key rotate` writes; the certificate `tls install` writes), and the health panel's line
for them ("keys": the certificate the gateway presents, the registered keys expiring soon)."""

from __future__ import annotations

import logging
import ssl
import threading
from datetime import datetime

from crypto import CryptoError, Gpg
from crypto.tls import Certificate
from store import Database, StoreUnavailable
from store.vocabulary import HealthState

from hub.clock import Clock
from hub.errors import TlsError
from hub.health import Beat
from hub.settings import Settings, load

from .expiry import beat, certificate_line, keys, keys_line
from .lifecycle import CHECK_EVERY
from .tls import current

log = logging.getLogger(__name__)

KEY_FIELDS = ("key_fingerprint", "previous_keys", "previous_key_accepted_until")


class Serving:
    """One serving process's view of its keys and certificate."""

    def __init__(self, settings: Settings, db: Database, gpg: Gpg, clock: Clock, *, schedules: bool) -> None:
        self.settings = settings
        self.db = db
        self.gpg = gpg
        self.clock = clock
        self.schedules = schedules  # a scheduler process: it shows the keys' line
        self.context: ssl.SSLContext | None = None
        self.presented: Certificate | None = None
        self._keys: tuple[datetime, tuple[str, str]] | None = None
        self._lock = threading.Lock()

    def presenting(self, context: ssl.SSLContext) -> None:
        """The gateway's context, loaded from the home's certificate at start-up."""
        self.context = context
        self.presented = current(self.settings)

    def reload(self) -> list[str]:
        """SIGHUP: the hub's key fields from the settings file, and the certificate (a gateway), again. What does
        not load is logged and the process keeps what it had. Returns what changed."""
        changed = []
        try:
            fresh = load(self.settings.home)
        except ValueError as exc:  # pydantic's ValidationError, a TOML error: the file as it was stays in force
            log.error("reload: the settings file cannot be read (%s); nothing reloaded", exc)
            fresh = None
        if fresh is not None:
            for name in KEY_FIELDS:
                value = getattr(fresh.hub, name)
                if getattr(self.settings.hub, name) != value:
                    setattr(self.settings.hub, name, value)
                    changed.append(f"hub.{name}")
        if self.context is not None:
            try:
                self.context.load_cert_chain(self.settings.tls_cert, self.settings.tls_key)
                now = current(self.settings)
            except (ssl.SSLError, OSError, TlsError) as exc:
                log.error("reload: the TLS certificate cannot be loaded (%s); the gateway keeps presenting %s",
                          exc, self.presented.fingerprint[:16] if self.presented else "the one it had")
            else:
                if self.presented is None or now.fingerprint != self.presented.fingerprint:
                    changed.append("tls")
                self.presented = now
        with self._lock:
            self._keys = None
        log.info("reload: %s", ", ".join(changed) if changed else "nothing changed")
        return changed

    def beats(self) -> list[Beat]:
        """This process's "keys" line in its heartbeat (in the heartbeat's thread): the certificate it presents
        (a gateway), the keys expiring soon (a scheduler, read again every CHECK_EVERY)."""
        now = self.clock.now()
        days = self.settings.hub.expiry_warning_days
        lines = []
        if self.presented is not None:
            try:
                on_disk = current(self.settings)
            except TlsError:
                on_disk = None
            lines.append(certificate_line(self.presented, on_disk, now, days))
        if self.schedules:
            with self._lock:
                cached = self._keys
            if cached is None or now - cached[0] >= CHECK_EVERY or now < cached[0]:
                hub = self.settings.hub
                try:
                    line = keys_line(keys(self.db, self.gpg, hub.key_fingerprint, hub.address), now, days)
                except (CryptoError, StoreUnavailable) as exc:  # the other components' beats still go out
                    line = (HealthState.DEGRADED, f"keys not read: {exc}"[:80])
                cached = (now, line)
                with self._lock:
                    self._keys = cached
            lines.append(cached[1])
        found = beat(lines)
        return [found] if found is not None else []
