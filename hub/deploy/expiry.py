"""Which keys and certificates expire when: every registered key (partners, members, recipients) and the hub's
own, as gpg's keyring says; the warning thresholds each is past; the lines the dashboard's health panel shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import select, update

from crypto import Gpg
from crypto.tls import Certificate
from store import AuditEvent, Database, Member, Partner, Recipient
from store.vocabulary import HealthState

from hub.health import Beat

@dataclass(frozen=True)
class Key:
    """A key the hub relies on, and until when."""

    owner: str  # partner | member | recipient | hub
    name: str
    email: str | None
    fingerprint: str
    expires_at: datetime | None

    @property
    def label(self) -> str:
        return self.name if self.owner in ("partner", "hub") else f"{self.owner} {self.name}"


def keys(db: Database, gpg: Gpg, hub_fingerprint: str, hub_address: str) -> list[Key]:
    """Every registered key and the hub's, with the expiry gpg's keyring gives its primary key (revoked keys
    left out: they are refused already). Registry rows whose stored expiry differs are brought in line."""
    with db.reader() as uow:
        rows = [("partner", p.name, p.email, p.fingerprint, p.key_expires_at) for p in uow.partners.all()]
        rows += [("member", m.name, m.email, m.fingerprint, m.key_expires_at) for m in uow.members.all()]
        rows += [("recipient", r.name, r.email, r.fingerprint, r.key_expires_at) for r in uow.recipients.all()]
    listed = {k.fingerprint: k for k in gpg.holding([row[3] for row in rows] + [hub_fingerprint])}
    found = [Key(owner, name, email, fpr, listed[fpr].expires) for owner, name, email, fpr, _ in rows
             if fpr in listed and not listed[fpr].revoked]
    stale = [(owner, fpr, listed[fpr].expires) for owner, _n, _e, fpr, stored in rows
             if fpr in listed and stored != listed[fpr].expires]
    if stale:
        _store_expiries(db, stale)
    if hub_fingerprint in listed:
        found.append(Key("hub", "hub", hub_address, hub_fingerprint, listed[hub_fingerprint].expires))
    return found


def _store_expiries(db: Database, stale: list[tuple[str, str, datetime | None]]) -> None:
    """The dashboard reads expiries from the registry's rows: a key extended in the keyring shows so there."""
    models = {"partner": Partner, "member": Member, "recipient": Recipient}
    with db.unit_of_work() as uow:
        for owner, fingerprint, expires in stale:
            model = models[owner]
            uow.session.execute(update(model).where(model.fingerprint == fingerprint).values(key_expires_at=expires))
        uow.commit()


def threshold_due(left: timedelta, days: list[int], given: Iterable[int]) -> int | None:
    """The warning to give now for something *left* from its expiry, or None: the nearest threshold it is past,
    unless that one or a nearer one was given already (a hub down past the 30-day mark gives the 7-day
    warning alone, once)."""
    if left <= timedelta(0):
        return None
    crossed = [d for d in days if left <= timedelta(days=d)]
    if not crossed:
        return None
    target = min(crossed)
    return None if any(g <= target for g in given) else target


def given(db: Database, action: str, since: datetime) -> dict[tuple[str, str], set[int]]:
    """The warnings of *action* recorded since *since*: {(fingerprint, expiry ISO): {thresholds}}. Every warning
    for an expiry still ahead was given within the largest threshold before it, so *since* bounds the read."""
    out: dict[tuple[str, str], set[int]] = {}
    with db.reader() as uow:
        for detail in uow.session.scalars(select(AuditEvent.detail).where(AuditEvent.action == action,
                                                                          AuditEvent.at >= since)):
            out.setdefault((detail.get("fingerprint", ""), detail.get("expires_at", "")), set()).add(detail.get("days"))
    return out


_WORST = {HealthState.OK: 0, HealthState.DEGRADED: 1, HealthState.DOWN: 2}


def keys_line(found: list[Key], now: datetime, days: list[int]) -> tuple[str, str]:
    """(state, words) for the keys: those expiring within the largest threshold, soonest first."""
    horizon = timedelta(days=max(days)) if days else timedelta(0)
    soon = sorted((k for k in found if k.expires_at is not None and k.expires_at - now <= horizon),
                  key=lambda k: k.expires_at)
    if not soon:
        return HealthState.OK, f"{len(found)} keys ok"
    parts = ", ".join(f"{k.label} {'expired' if k.expires_at <= now else f'{(k.expires_at - now).days} d'}"
                      for k in soon)
    hub_expired = any(k.owner == "hub" and k.expires_at <= now for k in soon)
    return (HealthState.DOWN if hub_expired else HealthState.DEGRADED), f"expiring: {parts}"


def certificate_line(presented: Certificate, on_disk: Certificate | None, now: datetime,
                     days: list[int]) -> tuple[str, str]:
    """(state, words) for the certificate the gateway presents (and whether the home holds another)."""
    left = presented.days_left(now)
    if left <= 0:
        return HealthState.DOWN, f"TLS certificate expired {presented.not_after:%Y-%m-%d}"
    soon = bool(days) and left <= max(days)
    words = f"TLS expires {presented.not_after:%Y-%m-%d} ({int(left)} d)" if soon else f"TLS {int(left)} d"
    if on_disk is not None and on_disk.fingerprint != presented.fingerprint:
        words += ", another in the home: SIGHUP"
    return (HealthState.DEGRADED if soon else HealthState.OK), words


def beat(lines: list[tuple[str, str]]) -> Beat | None:
    """The health panel's one "keys" line of a process: its certificate's and its keys' words, the worse state."""
    if not lines:
        return None
    state = max((s for s, _ in lines), key=_WORST.__getitem__)
    return Beat("keys", state, "; ".join(words for _, words in lines))
