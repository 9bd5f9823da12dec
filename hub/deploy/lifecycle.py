"""The scheduler's key and certificate job: warnings before a key or the TLS certificate expires (an alert, and a
signed, encrypted notice to the key's owner), each threshold once whatever restarts; and the hub's previous key
retired once its overlap has ended. Run by the scheduler's leader at most every CHECK_EVERY of the hub's clock."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from crypto import CryptoError, KeyUnusable
from store import StoreUnavailable
from store.vocabulary import Action

from hub import audit
from hub.errors import TlsError
from hub.outbound.outbox import OwnMail, queue_mail
from hub.transport.priorities import priority_of

from . import notices, rotation
from .expiry import Key, given, keys, threshold_due
from .tls import current as current_certificate

log = logging.getLogger(__name__)

CHECK_EVERY = timedelta(minutes=10)


class Lifecycle(OwnMail):
    """What the scheduler's tick calls: ``tick()`` acts when CHECK_EVERY has passed since its last run."""

    _last: datetime | None = None  # when tick() last acted

    def tick(self) -> int:
        now = self.clock.now()
        if self._last is not None and now - self._last < CHECK_EVERY:
            return 0
        self._last = now
        try:
            return self.keys(now) + self.certificate(now) + rotation.retire_due(self.settings, self.db, self.gpg,
                                                                                  self.clock)
        except (CryptoError, StoreUnavailable) as exc:  # gpg or the store in trouble: the reminders still run
            log.error("keys: the check of expiries failed (%s); next try in %s", exc, CHECK_EVERY)
            return 0

    def keys(self, now: datetime) -> int:
        """Warn about every key past a threshold not yet warned of; returns how many warnings."""
        days = self.settings.hub.expiry_warning_days
        if not days:
            return 0
        hub = self.settings.hub
        found = keys(self.db, self.gpg, hub.key_fingerprint, hub.address)
        before = given(self.db, Action.KEY_EXPIRING, now - timedelta(days=max(days) + 1))
        due = []
        for key in found:
            if key.expires_at is None:
                continue
            threshold = threshold_due(key.expires_at - now, days,
                                      before.get((key.fingerprint, key.expires_at.isoformat()), ()))
            if threshold is not None:
                due.append((key, threshold, self._notice(key, now)))
        if due:
            with self.db.unit_of_work() as uow:
                for key, threshold, (message_id, data) in due:
                    self._record(uow, key, threshold, message_id, data, now)
                uow.commit()
            self.transport.notify("outbound")
        return len(due)

    def _notice(self, key: Key, now: datetime) -> tuple[str | None, bytes | str]:
        """The owner's notice, or (None, why there is none): the hub's own key warns the duty officer alone."""
        if key.owner == "hub" or not key.email:
            return None, "the hub's own key: the duty officer's alert"
        hub = self.settings.hub
        try:
            return notices.key_expiry(self.gpg, hub_address=hub.address, hub_fingerprint=hub.key_fingerprint,
                                      domain=hub.domain, owner=key.owner, to=key.email, fingerprint=key.fingerprint,
                                      expires_at=key.expires_at, now=now)
        except KeyUnusable as exc:
            return None, f"held: {exc.reason}"

    def _record(self, uow, key: Key, threshold: int, message_id: str | None, data: bytes | str,
                now: datetime) -> None:
        notice = "queued" if message_id is not None else data
        if message_id is not None:
            queue_mail(uow, transport=self.transport, key=self.storage_key, clock=self.clock, message_id=None,
                       purpose=f"key-expiry-{threshold}", rfc_message_id=message_id,
                       mail_from=self.settings.hub.address, rcpt_to=key.email, data=data,
                       priority=priority_of("URGENT" if threshold <= 7 else "ROUTINE"))
        audit.record(uow, self.clock, Action.KEY_EXPIRING, owner=key.owner, name=key.name, fingerprint=key.fingerprint,
                     expires_at=key.expires_at.isoformat(), days=threshold,
                     days_left=int((key.expires_at - now).total_seconds() // 86400), to=key.email, notice=notice)
        log.warning("keys: %s %s (%s) expires %s; %d-day warning, notice %s", key.owner, key.name,
                    key.fingerprint, key.expires_at.date(), threshold, notice)

    def certificate(self, now: datetime) -> int:
        """Warn the duty officer once per threshold before the home's TLS certificate expires."""
        days = self.settings.hub.expiry_warning_days
        try:
            cert = current_certificate(self.settings)
        except TlsError as exc:
            log.error("tls: %s", exc)
            return 0
        if not days:
            return 0
        before = given(self.db, Action.TLS_EXPIRING, now - timedelta(days=max(days) + 1))
        threshold = threshold_due(cert.not_after - now, days,
                                  before.get((cert.fingerprint, cert.not_after.isoformat()), ()))
        if threshold is None:
            return 0
        with self.db.unit_of_work() as uow:
            audit.record(uow, self.clock, Action.TLS_EXPIRING, fingerprint=cert.fingerprint,
                         expires_at=cert.not_after.isoformat(), days=threshold,
                         days_left=int(cert.days_left(now)), names=list(cert.names))
            uow.commit()
        log.warning("tls: the certificate %s expires %s; %d-day warning", cert.fingerprint[:16],
                    cert.not_after.date(), threshold)
        return 1
