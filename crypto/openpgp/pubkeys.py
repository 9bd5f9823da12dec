"""Public keys of the kinds read in process as `cryptography` keys, and a v4 signature checked against one."""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from crypto.openpgp.packets import ECDSA, ED25519, EDDSA_LEGACY, RSA, RSA_SIGN, KeyPacket, SignaturePacket

CURVES = {bytes.fromhex("2A8648CE3D030107"): ec.SECP256R1, bytes.fromhex("2B81040022"): ec.SECP384R1,
          bytes.fromhex("2B81040023"): ec.SECP521R1}
ED25519_OID = bytes.fromhex("2B06010401DA470F01")
MIN_RSA_BITS = 2048
# RFC 9580 §9.5: hash id -> (hashlib name, cryptography hash, the name gpg's VALIDSIG gives). No SHA-1.
HASHES = {8: ("sha256", hashes.SHA256, "SHA256"), 9: ("sha384", hashes.SHA384, "SHA384"),
          10: ("sha512", hashes.SHA512, "SHA512"), 11: ("sha224", hashes.SHA224, "SHA224")}


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


def key_hash_input(key: KeyPacket) -> bytes:
    """How a v4 key enters the hash of a signature over keys (RFC 9580 §5.2.4): 0x99, length, public part."""
    public = key.body[:key.end]
    return b"\x99" + len(public).to_bytes(2, "big") + public


def signature_holds(public, key: KeyPacket, sig: SignaturePacket, covered: bytes) -> bool:
    """Whether sig (SHA-2 only) over covered, then its hashed part and trailer, is good by key (public)."""
    hashing = HASHES.get(sig.hash_id)
    if hashing is None:
        return False
    digest = hashlib.new(hashing[0], covered)
    digest.update(sig.trailer())
    value = digest.digest()
    return value[:2] == sig.left16 and _values_hold(public, key.algorithm, sig, value, hashing[1])


def _values_hold(public, kind: int, sig: SignaturePacket, digest: bytes, hash_cls) -> bool:
    algorithm, values = sig.algorithm, sig.values
    try:
        if isinstance(public, ed25519.Ed25519PublicKey) and algorithm == kind == EDDSA_LEGACY:
            if any(len(v) > 32 for v in values):
                return False
            public.verify(b"".join(v.rjust(32, b"\0") for v in values), digest)
        elif isinstance(public, ed25519.Ed25519PublicKey) and algorithm == kind == ED25519:
            public.verify(values[0], digest)
        elif isinstance(public, rsa.RSAPublicKey) and algorithm in (RSA, RSA_SIGN):
            size = (public.key_size + 7) // 8
            if len(values[0]) > size:
                return False
            public.verify(values[0].rjust(size, b"\0"), digest, padding.PKCS1v15(), utils.Prehashed(hash_cls()))
        elif isinstance(public, ec.EllipticCurvePublicKey) and algorithm == kind == ECDSA:
            r, s = (int.from_bytes(v, "big") for v in values)
            public.verify(utils.encode_dss_signature(r, s), digest, ec.ECDSA(utils.Prehashed(hash_cls())))
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        return False
    return True
