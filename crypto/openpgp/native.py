"""Signatures verified and made in process with `cryptography`, for the kinds of keys and signatures
read here (v4; Ed25519, ECDSA on NIST curves, RSA of 2048 bits or more; SHA-2). Verification only
ever says "good": anything it does not read, or cannot call good, is left to gpg, which decides."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, utils

from crypto.openpgp.colons import expiry, listed_keys, signing_records
from crypto.errors import PacketError
from crypto.openpgp.packets import (
    ED25519, EDDSA_LEGACY, RSA, RSA_SIGN, SUB_CREATED, SUB_ISSUER_FPR, SUB_ISSUER_KEY_ID, SUB_SIG_EXPIRES,
    TAG_SECRET_KEY, TAG_SECRET_SUBKEY, TAG_SIGNATURE, KeyPacket, armor, dearmor, key_packet, mpi, packet, packets,
    read_mpi, signature_packet, subpacket,
)
from crypto.openpgp.pubkeys import ED25519_OID, HASHES, signature_holds
from crypto.openpgp.signing_keys import Run, SigningKey, find

BINARY, TEXT = 0x00, 0x01
# Critical hashed subpackets read here; any other critical one leaves the signature to gpg.
UNDERSTOOD_CRITICAL = frozenset({SUB_CREATED, SUB_ISSUER_KEY_ID, SUB_ISSUER_FPR})
SIGN_HASH = 10  # SHA-512 for the signatures made here


@dataclass(frozen=True)
class GoodSignature:
    primary: str
    signing: str
    created: int
    hash_name: str
    sig_class: int


def verify(keys: Mapping[str, SigningKey], data: bytes, signature: bytes, now: float) -> GoodSignature | None:
    """A good signature by one of keys (by fingerprint and key id) valid now, or None: gpg is to decide."""
    try:
        found = packets(dearmor(signature))
        if len(found) != 1 or found[0].tag != TAG_SIGNATURE:
            return None
        sig = signature_packet(found[0].body)
    except PacketError:
        return None
    hashing = HASHES.get(sig.hash_id)
    created = sig.created
    if (hashing is None or sig.sig_type not in (BINARY, TEXT) or created is None or created > now
            or sig.first(SUB_SIG_EXPIRES, hashed_only=True) is not None
            or any(s.critical and s.type not in UNDERSTOOD_CRITICAL for s in sig.hashed)):
        return None
    if sig.sig_type == TEXT and not _canonical(data):
        return None  # gpg would hash it with its line ends converted
    key = find(keys, sig.issuers)
    if key is None or created < key.created or (key.expires is not None and key.expires <= now):
        return None
    if not signature_holds(key.public, key.packet, sig, data):
        return None
    return GoodSignature(key.primary, key.fingerprint, created, hashing[2], sig.sig_type)


def _canonical(data: bytes) -> bool:
    crlf = data.count(b"\r\n")
    return data.count(b"\n") == crlf and data.count(b"\r") == crlf


class Signer:
    """A secret key of the home held in process to make detached signatures as gpg would."""

    def __init__(self, key: KeyPacket, private, expires: int | None) -> None:
        self.key = key
        self._private = private
        self.expires = expires

    @classmethod
    def load(cls, run: Run, fingerprint: str, now: datetime) -> Signer | None:
        """The home's one signing key under this primary, if it is unprotected and of a kind signed here."""
        listing = run(["--list-secret-keys", "--", fingerprint], b"")
        if listing.returncode != 0:
            return None
        keys = [k for k in listed_keys(listing.data) if k.primary.fingerprint == fingerprint.upper()]
        records = signing_records(keys[0], now) if len(keys) == 1 else []
        if len(records) != 1:
            return None  # none, or several to choose from as gpg would: gpg signs
        exported = run(["--passphrase", "", "--export-secret-keys", "--", fingerprint], b"")
        if exported.returncode != 0:
            return None
        try:
            for pkt in packets(exported.data):
                if pkt.tag in (TAG_SECRET_KEY, TAG_SECRET_SUBKEY):
                    key = key_packet(pkt.body)
                    if key.fingerprint == records[0].fingerprint:
                        private = _private(key, pkt.body[key.end:])
                        if private is None:
                            return None
                        return cls(key, private, expiry(keys[0], records[0]))
        except PacketError:
            return None
        return None

    def sign(self, data: bytes, now: int) -> tuple[bytes, str]:
        """An armoured detached binary signature (v4, SHA-512) over data, and its micalg."""
        key = self.key
        hashed = (subpacket(SUB_ISSUER_FPR, b"\x04" + bytes.fromhex(key.fingerprint))
                  + subpacket(SUB_CREATED, now.to_bytes(4, "big")))
        head = bytes([4, BINARY, key.algorithm, SIGN_HASH]) + len(hashed).to_bytes(2, "big") + hashed
        unhashed = subpacket(SUB_ISSUER_KEY_ID, bytes.fromhex(key.key_id))
        digest = hashlib.sha512(data)
        digest.update(head + b"\x04\xff" + len(head).to_bytes(4, "big"))
        value = digest.digest()
        if key.algorithm == EDDSA_LEGACY:
            raw = self._private.sign(value)
            values = mpi(raw[:32]) + mpi(raw[32:])
        elif key.algorithm == ED25519:
            values = self._private.sign(value)
        else:
            values = mpi(self._private.sign(value, padding.PKCS1v15(), utils.Prehashed(hashes.SHA512())))
        body = head + len(unhashed).to_bytes(2, "big") + unhashed + value[:2] + values
        return armor(packet(TAG_SIGNATURE, body)), "pgp-sha512"

    def ed25519(self) -> ed25519.Ed25519PrivateKey | None:
        """The key itself when it is Ed25519: the same key signs the log's notes (crypto/tlog/keys.py)."""
        return self._private if isinstance(self._private, ed25519.Ed25519PrivateKey) else None


def _private(key: KeyPacket, secret: bytes):
    """The private key of an unprotected (S2K usage 0) v4 secret key packet, checked against its public part."""
    if not secret or secret[0] != 0:
        return None
    if key.algorithm == EDDSA_LEGACY and key.oid == ED25519_OID:
        seed, pos = read_mpi(secret, 1)
        if len(seed) > 32:
            return None
        private = ed25519.Ed25519PrivateKey.from_private_bytes(seed.rjust(32, b"\0"))
        parts = [secret[1:pos]]
        matches = b"\x40" + private.public_key().public_bytes_raw() == key.material[0]
    elif key.algorithm == ED25519:
        pos = 33
        private = ed25519.Ed25519PrivateKey.from_private_bytes(secret[1:pos])
        parts = [secret[1:pos]]
        matches = private.public_key().public_bytes_raw() == key.material[0]
    elif key.algorithm in (RSA, RSA_SIGN):
        pos, values = 1, []
        for _ in range(4):
            value, pos = read_mpi(secret, pos)
            values.append(int.from_bytes(value, "big"))
        d, p, q, _u = values
        n, e = (int.from_bytes(v, "big") for v in key.material)
        if p * q != n:
            return None
        private = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), rsa.rsa_crt_iqmp(p, q),
                                        rsa.RSAPublicNumbers(e, n)).private_key()
        parts = [secret[1:pos]]
        matches = True
    else:
        return None
    checksum = secret[pos:pos + 2]
    if len(checksum) != 2 or int.from_bytes(checksum, "big") != sum(b"".join(parts)) & 0xFFFF or not matches:
        return None
    return private
