"""The keys a GnuPG home holds valid for signing, with their public material: read from gpg's own
listing and export, once per change of the keyring (KeyringCache), for verification in process."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping, Sequence

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from crypto.colons import expiry, listed_keys, signing_records
from crypto.errors import PacketError
from crypto.gpg_process import Outcome
from crypto.packets import ECDSA, ED25519, EDDSA_LEGACY, KEY_TAGS, RSA, RSA_SIGN, KeyPacket, key_packet, packets

Run = Callable[[Sequence[str], bytes], Outcome]
KEYRINGS = ("pubring.kbx", "pubring.gpg")
CURVES = {bytes.fromhex("2A8648CE3D030107"): ec.SECP256R1, bytes.fromhex("2B81040022"): ec.SECP384R1,
          bytes.fromhex("2B81040023"): ec.SECP521R1}
ED25519_OID = bytes.fromhex("2B06010401DA470F01")
MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class SigningKey:
    """A (sub)key gpg lists as usable for signing, bound to the primary key it belongs to."""

    fingerprint: str
    primary: str
    created: int
    expires: int | None  # the earlier of the key's own expiry and its primary's
    packet: KeyPacket
    public: object  # the `cryptography` public key


def public_key(key: KeyPacket):
    """The `cryptography` key of a v4 key packet, or None for a kind left to gpg."""
    try:
        if key.algorithm == EDDSA_LEGACY and key.oid == ED25519_OID:
            point = key.material[0]
            return ed25519.Ed25519PublicKey.from_public_bytes(point[1:]) if point[:1] == b"\x40" else None
        if key.algorithm == ED25519:
            return ed25519.Ed25519PublicKey.from_public_bytes(key.material[0])
        if key.algorithm in (RSA, RSA_SIGN):
            n, e = (int.from_bytes(v, "big") for v in key.material)
            return rsa.RSAPublicNumbers(e, n).public_key() if n.bit_length() >= MIN_RSA_BITS else None
        if key.algorithm == ECDSA and key.oid in CURVES:
            return ec.EllipticCurvePublicKey.from_encoded_point(CURVES[key.oid](), key.material[0])
    except (UnsupportedAlgorithm, ValueError):
        return None
    return None


def keyring_stamp(home: Path) -> tuple:
    """Changes whenever gpg rewrites the public keyring (it writes a new file and renames it)."""
    stamp = []
    for name in KEYRINGS:
        try:
            st = os.stat(home / name)
        except OSError:
            stamp.append(None)
        else:
            stamp.append((st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(stamp)


class KeyringCache:
    """Values computed from one home's keyring, computed again once the keyring changed; thread-safe."""

    def __init__(self, home: Path) -> None:
        self._home = Path(home)
        self._lock = threading.Lock()
        self._held: dict[object, tuple[tuple, object]] = {}

    def get(self, name: object, compute: Callable[[], object]):
        stamp = keyring_stamp(self._home)  # before computing: a change meanwhile is seen next time
        held = self._held.get(name)
        if held is None or held[0] != stamp:
            with self._lock:
                held = self._held.get(name)
                if held is None or held[0] != stamp:
                    held = self._held[name] = (stamp, compute())
        return held[1]


def find(keys: Mapping[str, SigningKey], issuers: Sequence[str]) -> SigningKey | None:
    """The first key named by a fingerprint or key id of issuers."""
    for issuer in issuers:
        key = keys.get(issuer)
        if key is not None:
            return key
    return None


def read_signing_keys(run: Run) -> dict[str, SigningKey]:
    """The home's signing keys by fingerprint and by key id, as gpg lists and exports them now."""
    listing = run(["--list-keys"], b"")
    if listing.returncode != 0:
        return {}
    now = datetime.now(timezone.utc)
    wanted: dict[str, tuple[str, int | None]] = {}
    for key in listed_keys(listing.data):
        for rec in signing_records(key, now):
            wanted[rec.fingerprint] = (key.primary.fingerprint, expiry(key, rec))
    if not wanted:
        return {}
    export = run(["--export"], b"")
    if export.returncode != 0:
        return {}
    try:
        found = packets(export.data)
    except PacketError:
        return {}
    by_id: dict[str, SigningKey] = {}
    for pkt in found:
        if pkt.tag not in KEY_TAGS:
            continue
        try:
            parsed = key_packet(pkt.body)
        except PacketError:
            continue  # a kind of key left to gpg
        public = public_key(parsed) if parsed.fingerprint in wanted else None
        if public is not None:
            primary, expires = wanted[parsed.fingerprint]
            key = SigningKey(parsed.fingerprint, primary, parsed.created, expires, parsed, public)
            by_id[parsed.fingerprint] = by_id[parsed.key_id] = key
    return by_id
