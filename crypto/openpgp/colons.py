"""gpg's colon key listings (--with-colons --fixed-list-mode, doc/DETAILS of GnuPG) as records per key, and as
what a key says about itself (KeyInfo)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parseaddr

# Validity letters (field 2) of a key that cannot be used at all.
UNUSABLE = frozenset("redi")


@dataclass
class KeyRecord:
    """One pub/sec or sub/ssb line with the fingerprint that follows it."""

    fields: list[str]
    fingerprint: str = ""

    @property
    def validity(self) -> str:
        return self.fields[1]

    @property
    def created(self) -> datetime | None:
        return timestamp(self.fields[5])

    @property
    def expires(self) -> datetime | None:
        return timestamp(self.fields[6])

    @property
    def capabilities(self) -> str:
        """This key's own usage letters (lower case; the primary's upper-case summary is left out)."""
        return "".join(c for c in self.fields[11] if c.islower()) if len(self.fields) > 11 else ""

    def usable(self, now: datetime) -> bool:
        expires = self.expires
        return self.validity not in UNUSABLE and (expires is None or expires > now)


@dataclass
class ListedKey:
    primary: KeyRecord
    subkeys: list[KeyRecord] = field(default_factory=list)
    uids: list[list[str]] = field(default_factory=list)  # the uid lines' fields


def timestamp(value: str) -> datetime | None:
    if not value or value == "0":
        return None
    if value.isdigit():
        return datetime.fromtimestamp(int(value), timezone.utc)
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def listed_keys(data: bytes) -> list[ListedKey]:
    """The keys of a listing, each with its subkeys and user ids, in listing order."""
    keys: list[ListedKey] = []
    last: KeyRecord | None = None
    for line in data.decode("latin-1").splitlines():
        f = line.split(":")
        kind = f[0]
        if kind in ("pub", "sec"):
            last = KeyRecord(f)
            keys.append(ListedKey(last))
        elif kind in ("sub", "ssb") and keys:
            last = KeyRecord(f)
            keys[-1].subkeys.append(last)
        elif kind == "fpr" and last is not None and not last.fingerprint and len(f) > 9:
            last.fingerprint = f[9].upper()
        elif kind == "uid" and keys:
            keys[-1].uids.append(f)
    return [k for k in keys if k.primary.fingerprint]


def signing_records(key: ListedKey, now: datetime) -> list[KeyRecord]:
    """The (sub)keys of key that can sign now: usable themselves, under a usable primary, with usage 's'."""
    if not key.primary.usable(now):
        return []
    return [r for r in (key.primary, *key.subkeys) if r.fingerprint and r.usable(now) and "s" in r.capabilities]


def expiry(key: ListedKey, rec: KeyRecord) -> int | None:
    """When rec stops being usable: the earlier of its own expiry and its primary's (POSIX seconds)."""
    ends = [e for e in (rec.expires, key.primary.expires) if e is not None]
    return int(min(ends).timestamp()) if ends else None


@dataclass(frozen=True)
class KeyInfo:
    """What a key says about itself (primary key with its subkeys)."""

    fingerprint: str
    uids: tuple[str, ...]
    emails: tuple[str, ...]
    created: datetime
    expires: datetime | None
    revoked: bool
    can_sign: bool
    can_encrypt: bool
    subkeys: tuple[str, ...]

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and self.expires <= now


def unique(items) -> list[str]:
    seen: dict[str, None] = {}
    for i in items:
        seen.setdefault(i, None)
    return list(seen)


def _unescape(field: str) -> str:
    """Colon listings escape bytes as \\xHH in UTF-8 text."""
    raw = field.encode("latin-1", "replace")
    raw = re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)
    return raw.decode("utf-8", "replace")


def parse_listing(data: bytes) -> list[KeyInfo]:
    """Parse --with-colons --fixed-list-mode output into KeyInfo, one per primary key."""
    now = datetime.now(timezone.utc)
    return [_key_info(k, now) for k in listed_keys(data)]


def _key_info(k: ListedKey, now: datetime) -> KeyInfo:
    primary = k.primary
    usable = [r for r in (primary, *k.subkeys) if primary.usable(now) and r.usable(now)]
    uids = [_unescape(f[9]) for f in k.uids if f[1] not in ("r", "e") and len(f) > 9]
    emails = []
    for uid in uids:
        addr = parseaddr(uid)[1]
        if "@" in addr:
            emails.append(addr.lower())
    return KeyInfo(
        fingerprint=primary.fingerprint,
        uids=tuple(uids),
        emails=tuple(unique(emails)),
        created=primary.created or datetime.fromtimestamp(0, timezone.utc),
        expires=primary.expires,
        revoked=primary.validity == "r",
        can_sign=any("s" in r.capabilities for r in usable),
        can_encrypt=any("e" in r.capabilities for r in usable),
        subkeys=tuple(s.fingerprint for s in k.subkeys if s.fingerprint),
    )
