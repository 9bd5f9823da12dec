"""A small OpenPGP writer for tests (RFC 9580 §4-5, v4, EdDSA legacy Ed25519): keys and signatures crafted
as an attacker would, including the broken ones gpg refuses to make. Independent of crypto/, the code under
test; the private keys are `cryptography` Ed25519 keys made here."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ed25519

EDDSA = 22
ED25519_OID = bytes.fromhex("2B06010401DA470F01")
SHA1, SHA256, SHA512 = 2, 8, 10
HASHLIB = {SHA1: "sha1", SHA256: "sha256", SHA512: "sha512"}
# Signature types (RFC 9580 §5.2.1)
BINARY, TEXT, POSITIVE_CERT, SUBKEY_BINDING, PRIMARY_BINDING, SUBKEY_REVOCATION = 0x00, 0x01, 0x13, 0x18, 0x19, 0x28
# Subpacket types (RFC 9580 §5.2.3.7)
CREATED, SIG_EXPIRES, KEY_EXPIRES, ISSUER, KEY_FLAGS, EMBEDDED, ISSUER_FPR = 2, 3, 9, 16, 27, 32, 33
PREFERRED_CIPHERS = 11  # preferred symmetric algorithms (RFC 9580 §5.2.3.14)
CERTIFY, SIGN, ENCRYPT_COMMS, ENCRYPT_STORAGE = 0x01, 0x02, 0x04, 0x08
ENCRYPT = ENCRYPT_COMMS | ENCRYPT_STORAGE
TAG_SIGNATURE, TAG_PUBLIC_KEY, TAG_UID, TAG_PUBLIC_SUBKEY = 2, 6, 13, 14


def length(n: int) -> bytes:
    if n < 192:
        return bytes([n])
    if n < 8384:
        n -= 192
        return bytes([(n >> 8) + 192, n & 0xFF])
    return b"\xff" + n.to_bytes(4, "big")


def packet(tag: int, body: bytes) -> bytes:
    return bytes([0xC0 | tag]) + length(len(body)) + body


def mpi(value: bytes) -> bytes:
    value = value.lstrip(b"\0")
    bits = (len(value) - 1) * 8 + value[0].bit_length() if value else 0
    return bits.to_bytes(2, "big") + value


def subpacket(kind: int, data: bytes, *, critical: bool = False) -> bytes:
    return length(len(data) + 1) + bytes([kind | (0x80 if critical else 0)]) + data


def u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


@dataclass
class Key:
    """An Ed25519 (sub)key made here with its creation time; or another party's key, public part only."""

    created: int
    private: ed25519.Ed25519PrivateKey | None = field(default_factory=ed25519.Ed25519PrivateKey.generate)
    raw: bytes | None = None  # the public key packet body of a key not made here (any algorithm)

    @property
    def body(self) -> bytes:
        if self.raw is not None:
            return self.raw
        point = self.private.public_key().public_bytes_raw()
        return bytes([4]) + u32(self.created) + bytes([EDDSA, len(ED25519_OID)]) + ED25519_OID + mpi(b"\x40" + point)

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.body)

    @property
    def key_id(self) -> str:
        return self.fingerprint[-16:]

    def issuer(self) -> bytes:
        return subpacket(ISSUER_FPR, b"\x04" + bytes.fromhex(self.fingerprint))

    def unhashed_issuer(self) -> bytes:
        return subpacket(ISSUER, bytes.fromhex(self.key_id))


def fingerprint_of(body: bytes) -> str:
    """The v4 fingerprint of a public key packet body."""
    return hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest().upper()


def key_hash_input(key: Key) -> bytes:
    body = key.body
    return b"\x99" + len(body).to_bytes(2, "big") + body


def signature(signer: Key, sig_type: int, covered: bytes, *, created: int, hash_id: int = SHA256,
              hashed: bytes = b"", unhashed: bytes | None = None, issuer: bool = True, corrupt: bool = False) -> bytes:
    """A v4 signature packet body by signer over covered (what precedes the trailer): creation time and
    issuer fingerprint hashed, then *hashed*; issuer key id unhashed unless *unhashed* is given."""
    area = subpacket(CREATED, u32(created)) + (signer.issuer() if issuer else b"") + hashed
    head = bytes([4, sig_type, EDDSA, hash_id]) + len(area).to_bytes(2, "big") + area
    digest = hashlib.new(HASHLIB[hash_id], covered + head + b"\x04\xff" + u32(len(head))).digest()
    raw = signer.private.sign(digest)
    if corrupt:
        raw = raw[:40] + bytes([raw[40] ^ 1]) + raw[41:]
    extra = signer.unhashed_issuer() if unhashed is None else unhashed
    return head + len(extra).to_bytes(2, "big") + extra + digest[:2] + mpi(raw[:32]) + mpi(raw[32:])


def self_certification(primary: Key, uid: str, *, created: int | None = None, flags: int = CERTIFY | SIGN,
                       hash_id: int = SHA256, hashed: bytes = b"", signer: Key | None = None) -> bytes:
    """A positive certification of uid by primary (or *signer*), with key flags, then *hashed*."""
    uid_bytes = uid.encode()
    covered = key_hash_input(primary) + b"\xb4" + u32(len(uid_bytes)) + uid_bytes
    return signature(signer or primary, POSITIVE_CERT, covered, created=created or primary.created, hash_id=hash_id,
                     hashed=subpacket(KEY_FLAGS, bytes([flags])) + hashed)


def back_signature(primary: Key, sub: Key, *, created: int | None = None, hash_id: int = SHA256,
                   corrupt: bool = False, hashed: bytes = b"") -> bytes:
    """The primary key binding signature (0x19) a signing subkey makes over its primary and itself."""
    return signature(sub, PRIMARY_BINDING, key_hash_input(primary) + key_hash_input(sub),
                     created=created or sub.created, hash_id=hash_id, corrupt=corrupt, hashed=hashed)


def binding(primary: Key, sub: Key, *, created: int | None = None, flags: int | None = SIGN, hash_id: int = SHA256,
            back: bytes | None = None, back_unhashed: bool = False, expires_after: int | None = None,
            hashed: bytes = b"", signer: Key | None = None) -> bytes:
    """A subkey binding signature (0x18) by primary (or *signer*) over primary and sub, with key flags,
    (none if *flags* is None), and the embedded back-signature *back* (hashed, or unhashed) when given."""
    area = (subpacket(KEY_FLAGS, bytes([flags])) if flags is not None else b"") + hashed
    if expires_after is not None:
        area += subpacket(KEY_EXPIRES, u32(expires_after))
    unhashed = (signer or primary).unhashed_issuer()
    if back is not None:
        if back_unhashed:
            unhashed += subpacket(EMBEDDED, back)
        else:
            area += subpacket(EMBEDDED, back)
    return signature(signer or primary, SUBKEY_BINDING, key_hash_input(primary) + key_hash_input(sub),
                     created=created or sub.created, hash_id=hash_id, hashed=area, unhashed=unhashed)


def subkey_revocation(primary: Key, sub: Key, *, created: int) -> bytes:
    return signature(primary, SUBKEY_REVOCATION, key_hash_input(primary) + key_hash_input(sub), created=created)


def transferable(primary: Key, uid: str, subkeys: list[tuple[Key, list[bytes]]], *,
                 certification: bytes | None = None, certifications: list[bytes] = ()) -> bytes:
    """A transferable public key: primary, one user id with its certification (and *certifications* after it),
    each subkey with its signatures."""
    out = [packet(TAG_PUBLIC_KEY, primary.body), packet(TAG_UID, uid.encode()),
           packet(TAG_SIGNATURE, certification or self_certification(primary, uid)),
           *(packet(TAG_SIGNATURE, c) for c in certifications)]
    for sub, signatures in subkeys:
        out.append(packet(TAG_PUBLIC_SUBKEY, sub.body))
        out.extend(packet(TAG_SIGNATURE, s) for s in signatures)
    return b"".join(out)


def detached(signer: Key, data: bytes, *, created: int, sig_type: int = BINARY, hash_id: int = SHA256,
             hashed: bytes = b"") -> bytes:
    """An armoured detached signature over data as given (text mode: the caller gives canonical text)."""
    return armor(packet(TAG_SIGNATURE, signature(signer, sig_type, data, created=created, hash_id=hash_id,
                                                 hashed=hashed)))


def crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def armor(binary: bytes, label: str = "PGP SIGNATURE") -> bytes:
    text = base64.b64encode(binary).decode()
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    crc = base64.b64encode(crc24(binary).to_bytes(3, "big")).decode()
    return "\n".join([f"-----BEGIN {label}-----", "", *lines, "=" + crc, f"-----END {label}-----", ""]).encode()


def public_key_block(binary: bytes) -> bytes:
    return armor(binary, "PGP PUBLIC KEY BLOCK")


def packets_of(binary: bytes) -> list[tuple[int, bytes]]:
    """(tag, body) of each packet of gpg's binary export (old and new format headers, no partial lengths)."""
    out, pos = [], 0
    while pos < len(binary):
        head = binary[pos]
        assert head & 0x80, "not an OpenPGP packet"
        if head & 0x40:
            tag, first = head & 0x3F, binary[pos + 1]
            if first < 192:
                size, pos = first, pos + 2
            elif first < 224:
                size, pos = ((first - 192) << 8) + binary[pos + 2] + 192, pos + 3
            else:
                size, pos = int.from_bytes(binary[pos + 2:pos + 6], "big"), pos + 6
        else:
            tag, width = (head >> 2) & 0x0F, (1, 2, 4)[head & 0x03]
            size, pos = int.from_bytes(binary[pos + 1:pos + 1 + width], "big"), pos + 1 + width
        out.append((tag, binary[pos:pos + size]))
        pos += size
    return out


def key_of(exported: bytes, fingerprint: str) -> Key:
    """Another party's (sub)key, public part only, from its binary export (gpg --export), by fingerprint."""
    for tag, body in packets_of(exported):
        if tag in (TAG_PUBLIC_KEY, TAG_PUBLIC_SUBKEY) and fingerprint_of(body) == fingerprint:
            return Key(int.from_bytes(body[1:5], "big"), private=None, raw=body)
    raise LookupError(f"no key {fingerprint} in the export")


def dearmor(armored: bytes) -> bytes:
    """The binary packets of one armoured block (its checksum line left out)."""
    lines = armored.replace(b"\r\n", b"\n").split(b"\n")
    start = lines.index(b"") + 1
    end = next(i for i, line in enumerate(lines) if line.startswith((b"=", b"-----END")) and i >= start)
    return base64.b64decode(b"".join(lines[start:end]))


P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def with_s_negated(signature: bytes) -> bytes:
    """An armoured ECDSA P-256 signature with its values (r, s) made (r, n - s): a different signature packet
    that verifies as well (ECDSA signatures are malleable)."""
    [(tag, body)] = packets_of(dearmor(signature))
    pos = 6 + int.from_bytes(body[4:6], "big")
    pos += 2 + int.from_bytes(body[pos:pos + 2], "big") + 2  # the unhashed area, then the left 16 bits
    values = []
    at = pos
    for _ in range(2):
        size = (int.from_bytes(body[at:at + 2], "big") + 7) // 8
        values.append(int.from_bytes(body[at + 2:at + 2 + size], "big"))
        at += 2 + size
    r, s = values
    negated = P256_ORDER - s
    return armor(packet(tag, body[:pos] + mpi(r.to_bytes(32, "big")) + mpi(negated.to_bytes(32, "big"))))
