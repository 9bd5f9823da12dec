"""OpenPGP messages encrypted in process with `cryptography`, as gpg 2.2 makes them for the keys read here (v4;
Curve25519 ECDH, RSA of 2048 bits or more): a fresh AES-256 session key, a PKESK v3 to each recipient subkey
(RFC 9580 §5.1, §11.5 and RFC 6637 §8 for ECDH), the literal data in a SEIPD v1 packet with its MDC (§5.13.1),
signed inside when a signer is given (one-pass signature, literal data, signature: §10.3), not compressed."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

try:  # OpenPGP's CFB (SEIPD v1) is among `cryptography`'s decrepit modes from 47 on
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:
    from cryptography.hazmat.primitives.ciphers.modes import CFB

from crypto.openpgp.packets import (
    ECDH, RSA, TAG_LITERAL, TAG_MDC, TAG_ONE_PASS, TAG_PKESK, TAG_SEIPD, KeyPacket, armor, mpi,
    packet, packet_header,
)
from crypto.openpgp.native import Signer
from crypto.openpgp.pubkeys import MIN_RSA_BITS

AES256 = 9  # symmetric algorithm ids (RFC 9580 §9.3)
CV25519_OID = bytes.fromhex("2B060104019755010501")  # 1.3.6.1.4.1.3029.1.5.1, gpg's "cv25519"
# KDF parameters of an ECDH key (RFC 9580 §11.5): hash id -> hash; key-wrap cipher id -> AES key size.
KDF_HASHES = {8: hashes.SHA256, 9: hashes.SHA384, 10: hashes.SHA512}
KEK_BYTES = {7: 16, 8: 24, 9: 32}
_ANONYMOUS_SENDER = b"Anonymous Sender    "
_BLOCK = 16
_MDC_HEADER = packet_header(TAG_MDC, 20)  # the modification detection code packet: a SHA-1 digest
_MDC_BYTES = len(_MDC_HEADER) + 20


@dataclass(frozen=True)
class EncryptionKey:
    """A (sub)key to encrypt to, under its primary, with its `cryptography` public key (recipient_key)."""

    fingerprint: str
    primary: str
    packet: KeyPacket
    public: object


def recipient_key(key: KeyPacket):
    """The `cryptography` public key to encrypt to a v4 (sub)key, or None for a kind left to gpg: ECDH only on
    the legacy Curve25519 with its one KDF parameter form (SHA-2, AES key wrap), RSA (1) of MIN_RSA_BITS or more."""
    if key.algorithm == ECDH and key.oid == CV25519_OID:
        point, kdf = key.material
        if len(point) != 33 or point[0] != 0x40 or len(kdf) != 4 or kdf[:2] != b"\x03\x01":
            return None
        if kdf[2] not in KDF_HASHES or kdf[3] not in KEK_BYTES:
            return None
        try:
            return x25519.X25519PublicKey.from_public_bytes(point[1:])
        except ValueError:
            return None
    if key.algorithm == RSA:
        n, e = (int.from_bytes(v, "big") for v in key.material)
        if n.bit_length() < MIN_RSA_BITS or e < 3 or e % 2 == 0:
            return None
        try:
            return rsa.RSAPublicNumbers(e, n).public_key()
        except ValueError:
            return None
    return None


def encrypt(recipients: Sequence[EncryptionKey], data: bytes, signer: Signer | None, now: int) -> bytes | None:
    """An armoured OpenPGP message of *data* to every recipient subkey (each once), signed inside by *signer* if
    given; None if a recipient's key cannot be encrypted to here after all (gpg is to decide)."""
    session = secrets.token_bytes(32)
    message = bytearray()
    for fpr in dict.fromkeys(r.fingerprint for r in recipients):
        body = _session_key_body(next(r for r in recipients if r.fingerprint == fpr), session)
        if body is None:
            return None
        message += packet(TAG_PKESK, body)
    literal = packet_header(TAG_LITERAL, 6 + len(data)) + b"b\x00" + bytes(4)  # binary, no file name, no date
    inside = [literal, data]
    if signer is not None:
        signature, hash_id = signer.signature(data, now)
        one_pass = bytes([3, 0x00, hash_id, signer.key.algorithm]) + bytes.fromhex(signer.key.key_id) + b"\x01"
        inside = [packet(TAG_ONE_PASS, one_pass), literal, data, signature]
    message += packet_header(TAG_SEIPD, 1 + _BLOCK + 2 + sum(map(len, inside)) + _MDC_BYTES) + b"\x01"
    _protect(session, inside, message)
    return armor(message, "PGP MESSAGE")


def _session_key_body(recipient: EncryptionKey, session: bytes) -> bytes | None:
    """A version 3 PKESK body to recipient's key carrying AES-256 and *session* (RFC 9580 §5.1)."""
    key = recipient.packet
    message = bytes([AES256]) + session + (sum(session) & 0xFFFF).to_bytes(2, "big")
    head = b"\x03" + bytes.fromhex(key.key_id) + bytes([key.algorithm])
    if isinstance(recipient.public, rsa.RSAPublicKey):
        return head + mpi(recipient.public.encrypt(message, padding.PKCS1v15()))
    if isinstance(recipient.public, x25519.X25519PublicKey):
        ephemeral = x25519.X25519PrivateKey.generate()
        try:
            shared = ephemeral.exchange(recipient.public)
        except ValueError:  # a point of small order: no shared secret
            return None
        kdf = key.material[1]
        param = bytes([len(key.oid)]) + key.oid + bytes([ECDH]) + kdf + _ANONYMOUS_SENDER + bytes.fromhex(key.fingerprint)
        digest = hashes.Hash(KDF_HASHES[kdf[2]]())
        digest.update(b"\x00\x00\x00\x01" + shared + param)
        kek = digest.finalize()[:KEK_BYTES[kdf[3]]]
        pad = 8 - len(message) % 8  # PKCS #5 padding to the key wrap's 8 octets (RFC 6637 §8)
        wrapped = aes_key_wrap(kek, message + bytes([pad]) * pad)
        point = b"\x40" + ephemeral.public_key().public_bytes_raw()
        return head + mpi(point) + bytes([len(wrapped)]) + wrapped
    return None


def _protect(session: bytes, packets: Sequence[bytes], out: bytearray) -> None:
    """Append to *out* the SEIPD v1 ciphertext (RFC 9580 §5.13.1): AES-256 in CFB mode with a zero IV over a random
    block and its last two octets again, the packets, and the MDC packet (SHA-1 over all that and the MDC's own
    header), a piece at a time."""
    prefix = secrets.token_bytes(_BLOCK)
    digest = hashlib.sha1()
    encryptor = Cipher(algorithms.AES(session), CFB(bytes(_BLOCK))).encryptor()
    for piece in (prefix + prefix[-2:], *packets, _MDC_HEADER):
        digest.update(piece)
        out += encryptor.update(piece)
    out += encryptor.update(digest.digest()) + encryptor.finalize()
