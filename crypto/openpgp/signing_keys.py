"""The keys a GnuPG home holds valid for signing, with their public material, from gpg's own listing and export
(crypto/openpgp/keyring.py), for verification in process. A subkey counts only with a cross-certified binding to
its primary (crypto/openpgp/bindings.py), and a (sub)key the keyring holds under two primaries, or a key id two
keys share, not at all: gpg decides for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping, Sequence

from crypto.openpgp.bindings import cross_certified
from crypto.openpgp.colons import expiry, signing_records
from crypto.openpgp.keyring import Keyring, readable
from crypto.openpgp.packets import KeyPacket
from crypto.openpgp.pubkeys import public_key


@dataclass(frozen=True)
class SigningKey:
    """A (sub)key gpg lists as usable for signing, bound to the primary key it belongs to."""

    fingerprint: str
    primary: str
    created: int
    expires: int | None  # the earlier of the key's own expiry and its primary's
    packet: KeyPacket
    public: object  # the `cryptography` public key


def find(keys: Mapping[str, SigningKey], issuers: Sequence[str]) -> SigningKey | None:
    """The one key every fingerprint and key id of issuers names, or None (none, or several)."""
    named = [keys.get(issuer) for issuer in issuers]
    if not named or None in named or len({key.fingerprint for key in named}) != 1:
        return None
    return named[0]


def signing_keys(keyring: Keyring) -> dict[str, SigningKey]:
    """The home's signing keys by fingerprint and by key id, as gpg listed and exported them."""
    now = datetime.fromtimestamp(keyring.read_at, timezone.utc)
    wanted: dict[tuple[str, str], int | None] = {}  # (primary, signing key) -> expiry
    for key in keyring.listed:
        for rec in signing_records(key, now):
            wanted[(key.primary.fingerprint, rec.fingerprint)] = expiry(key, rec)
    found: list[SigningKey] = []
    for block in keyring.blocks if wanted else ():
        primary = readable(block.primary)
        if primary is None:
            continue
        for parsed, signatures in [(primary, None), *((readable(b), sigs) for b, sigs in block.subkeys)]:
            if parsed is None or (primary.fingerprint, parsed.fingerprint) not in wanted:
                continue
            if keyring.copies[parsed.fingerprint] != 1:
                continue  # a key twice in the keyring (under two primaries): whose it is, gpg decides
            if signatures is not None and not cross_certified(primary, parsed, signatures, int(keyring.read_at)):
                continue
            public = public_key(parsed)
            if public is not None:
                found.append(SigningKey(parsed.fingerprint, primary.fingerprint, parsed.created,
                                        wanted[(primary.fingerprint, parsed.fingerprint)], parsed, public))
    key_ids = keyring.key_ids
    by_id: dict[str, SigningKey] = {}
    for key in found:
        by_id[key.fingerprint] = key
        if key_ids[key.packet.key_id] == 1:
            by_id[key.packet.key_id] = key
    return by_id
