"""The subkey gpg would encrypt to for each primary key of a home, where that choice is plain (gpg 2.2's
finish_lookup: of the subkeys usable for encryption now under a usable primary, the one created last), with its
public material from the export, for encryption in process. Anything less plain is left to gpg."""

from __future__ import annotations

from datetime import datetime, timezone

from crypto.errors import PacketError
from crypto.openpgp.bindings import Keyblock, bound_for_encryption
from crypto.openpgp.colons import ListedKey
from crypto.openpgp.encryption import AES256, EncryptionKey, recipient_key
from crypto.openpgp.keyring import Keyring, readable
from crypto.openpgp.packets import SUB_PREFERRED_CIPHERS, KeyPacket, signature_packet

CERTIFICATIONS = frozenset({0x10, 0x11, 0x12, 0x13, 0x1F})  # of a user id, or direct on the key (RFC 9580 §5.2.1)


def encryption_keys(keyring: Keyring) -> dict[str, EncryptionKey]:
    """The subkey to encrypt to by primary fingerprint, for the primaries whose choice is plain here.

    Left out (gpg decides, and refuses where it would): a primary not usable now; no subkey listed usable for
    encryption now (gpg would try the primary itself); two such subkeys created in the same second (gpg takes
    the first of its keyblock); the chosen subkey not of a kind encrypted to here, its binding not plainly good
    (crypto/openpgp/bindings.py), or under two primaries; a primary in the keyring twice; a key whose preferred
    ciphers leave out AES-256, or that states none."""
    now = datetime.fromtimestamp(keyring.read_at, timezone.utc)
    blocks: dict[str, Keyblock] = {}
    for block in keyring.blocks:
        primary = readable(block.primary)
        if primary is not None and keyring.copies[primary.fingerprint] == 1:
            blocks[primary.fingerprint] = block
    found: dict[str, EncryptionKey] = {}
    for key in keyring.listed:
        fpr = key.primary.fingerprint
        chosen = _chosen(key, now)
        if chosen is None or fpr not in blocks or keyring.copies[chosen] != 1:
            continue
        block = blocks[fpr]
        primary = readable(block.primary)
        for body, signatures in block.subkeys:
            sub = readable(body)
            if sub is None or sub.fingerprint != chosen:
                continue
            public = recipient_key(sub)
            if (public is not None and _prefers_aes256(primary, block.certifications)
                    and bound_for_encryption(primary, sub, signatures, int(keyring.read_at))):
                found[fpr] = EncryptionKey(sub.fingerprint, fpr, sub, public)
    return found


def _chosen(key: ListedKey, now: datetime) -> str | None:
    """The fingerprint of the subkey gpg encrypts to: created last of those listed usable for encryption, created
    by now, under a usable primary; None where there is none, or two share that creation second."""
    if not key.primary.usable(now):
        return None
    usable = [s for s in key.subkeys if s.fingerprint and s.usable(now) and "e" in s.capabilities
              and s.created is not None and s.created <= now]
    if not usable:
        return None
    latest = max(s.created for s in usable)
    last = [s for s in usable if s.created == latest]
    return last[0].fingerprint if len(last) == 1 else None


def _prefers_aes256(primary: KeyPacket, certifications: list[bytes]) -> bool:
    """The key states its preferred ciphers in a self-signature, and every such statement names AES-256."""
    stated = []
    for body in certifications:
        try:
            sig = signature_packet(body)
        except PacketError:
            continue
        if sig.sig_type not in CERTIFICATIONS or not sig.issuers:
            continue
        if any(i not in (primary.fingerprint, primary.key_id) for i in sig.issuers):
            continue  # a certification by another key states nothing of this key's preferences
        ciphers = sig.first(SUB_PREFERRED_CIPHERS, hashed_only=True)
        if ciphers is not None:
            stated.append(ciphers)
    return bool(stated) and all(AES256 in ciphers for ciphers in stated)
