"""gpg's colon key listings (--with-colons --fixed-list-mode, doc/DETAILS of GnuPG) as records per key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

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
