"""OpenPGP wire format (RFC 9580 §4–6): ASCII armor, packet framing, MPIs, v4 key and signature packets."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from crypto.errors import PacketError

TAG_SIGNATURE, TAG_SECRET_KEY, TAG_PUBLIC_KEY, TAG_SECRET_SUBKEY, TAG_PUBLIC_SUBKEY = 2, 5, 6, 7, 14
KEY_TAGS = (TAG_SECRET_KEY, TAG_PUBLIC_KEY, TAG_SECRET_SUBKEY, TAG_PUBLIC_SUBKEY)
TAG_PKESK, TAG_ONE_PASS, TAG_LITERAL, TAG_USER_ID, TAG_SEIPD, TAG_MDC = 1, 4, 11, 13, 18, 19

# Public-key algorithms (RFC 9580 §9.1) this module reads the material of.
RSA, RSA_SIGN, ECDH, ECDSA, EDDSA_LEGACY, ED25519 = 1, 3, 18, 19, 22, 27
# Subpacket types (RFC 9580 §5.2.3.7).
SUB_CREATED, SUB_SIG_EXPIRES, SUB_KEY_EXPIRES, SUB_PREFERRED_CIPHERS, SUB_ISSUER_KEY_ID, SUB_KEY_FLAGS = 2, 3, 9, 11, 16, 27
SUB_EMBEDDED, SUB_ISSUER_FPR = 32, 33


_BLANK_LINE = re.compile(rb"\r?\n[ \t]*\r?\n")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]+")


_CRC24_POLY = 0x1864CFB  # x^24 + x^23 + x^18 + x^17 + x^14 + x^11 + x^10 + x^7 + x^6 + x^5 + x^4 + x^3 + x + 1
_CRC24_INIT = 0xB704CE


def _reduced(value: int) -> int:
    """*value* as a polynomial over GF(2), modulo the CRC-24 polynomial, a bit at a time."""
    for bit in range(value.bit_length() - 1, 23, -1):
        if value >> bit & 1:
            value ^= _CRC24_POLY << (bit - 24)
    return value


def _x_powers() -> list[int]:
    """x^(2^j) modulo the CRC-24 polynomial, j = 0 .. 63 (each the square of the one before)."""
    powers = [2]
    while len(powers) < 64:
        last, square = powers[-1], 0
        for bit in range(24):
            if last >> bit & 1:
                square ^= last << bit
        powers.append(_reduced(square))
    return powers


_X_POWERS = _x_powers()


def crc24(data: bytes) -> int:
    """The armor checksum (RFC 9580 §6.1): (init·x^8n + data·x^24) mod P over GF(2), the data taken as one
    integer and folded in halves (its upper part times x^k mod P, a few shifts and XORs of Python integers), so
    that a long message costs milliseconds, not a Python step per byte."""
    value = (int.from_bytes(data, "big") << 24) ^ (_CRC24_INIT << (8 * len(data)))
    while value.bit_length() > 56:
        power = (value.bit_length() - 25).bit_length() - 1  # 2^power <= bits - 25: the upper part keeps 25+
        half = 1 << power
        upper, folded = value >> half, value & ((1 << half) - 1)  # value = upper·x^half + folded
        factor, shift = _X_POWERS[power], 0
        while factor:  # folded += upper · (x^half mod P)
            if factor & 1:
                folded ^= upper << shift
            factor >>= 1
            shift += 1
        value = folded
    return _reduced(value)


_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_ARMOR_HEADER = re.compile(rb"[^:]*:(?: .*)?")  # "Key: value" or "Key:": gpg reads no other colon after a key


def _line(text: bytes, pos: int) -> tuple[bytes, int]:
    """The line of *text* at *pos* without its line end and trailing spaces and tabs, and where its LF is (-1:
    none)."""
    nl = text.find(b"\n", pos)
    return text[pos:len(text) if nl < 0 else nl].rstrip(b" \t\r"), nl


def read_armor(data: bytes, label: str) -> tuple[bytes, bytes | None]:
    """(base64 data as its lines hold it, checksum or None) of the one ASCII armor block labelled *label* in
    *data* (RFC 9580 §6.2), read as gpg 2.2 reads armor without complaint, or PacketError: blank lines only around
    the block; its "-----BEGIN PGP <label>-----" and END lines; header lines "Key: value" (a space, or nothing,
    after the first colon; gpg takes any other line for an invalid header, then for data); the blank line after
    them; base64, padded only at the end of the data; an optional checksum line ("=" and 4 base64 digits), and
    without it the data padded (gpg then reads the END line as more data). Spaces and tabs may end or split a
    line, as gpg allows. The data is checked in a few passes over the bytes, not line by line: an encrypted part
    may be megabytes."""
    if data.count(b"\r") != data.count(b"\r\n"):
        raise PacketError("the armor holds a CR that does not end a line")
    begin, end = f"-----BEGIN PGP {label}-----".encode(), f"-----END PGP {label}-----".encode()
    line, nl = _line(data, 0)
    while not line and nl >= 0:
        line, nl = _line(data, nl + 1)
    if line != begin:
        raise PacketError(f"no {begin.decode()} line where the armor starts")
    while True:
        if nl < 0:
            raise PacketError(f"armor without its {end.decode()} line")
        line, nl = _line(data, nl + 1)
        if not line:
            break
        if not _ARMOR_HEADER.fullmatch(line):
            raise PacketError("an armor header line is not \"Key: value\", or no blank line ends them")
    dash = data.find(b"-----", nl)  # no dash is base64: the first one starts the END line, or is refused
    if nl < 0 or dash < 0 or data[dash - 1:dash] != b"\n" or _line(data, dash)[0] != end:
        raise PacketError(f"armor without its {end.decode()} line, or a line in it that is not base64")
    after = _line(data, dash)[1]
    if after >= 0 and data[after:].strip(b" \t\r\n"):
        raise PacketError("text after the armor's END line (one armor block only)")
    body, checksum = data[nl + 1:dash].rstrip(b" \t\r\n"), None
    last = body[body.rfind(b"\n") + 1:].rstrip(b" \t\r")
    if last.startswith(b"=") and last.strip(b"="):
        checksum, body = last[1:], body[:body.rfind(b"\n") + 1]
        if len(checksum) != 4 or checksum.translate(None, _BASE64):
            raise PacketError("the armor checksum is not \"=\" and four base64 characters")
    if body.translate(None, _BASE64 + b"= \t\r\n"):
        raise PacketError("an armor line is not base64")
    tail = body.rstrip(b"= \t\r\n")
    size = len(body) - sum(body.count(c) for c in (b" ", b"\t", b"\r", b"\n"))
    if b"=" in tail or size % 4:
        raise PacketError("armor padding before the end of its data, or data not in groups of four")
    if checksum is None and len(tail) == len(body.rstrip(b" \t\r\n")):
        raise PacketError("armor without a checksum whose data is not padded (gpg reads its END line as data)")
    return body, checksum


def dearmor(data: bytes, label: str = "SIGNATURE") -> bytes:
    """The binary packets of already binary data, or of its one armor block (:func:`read_armor`, checksum
    checked when present)."""
    if data[:1] and data[0] & 0x80:
        return bytes(data)
    body, checksum = read_armor(data, label)
    try:
        binary = base64.b64decode(body.translate(None, b" \t\r\n"), validate=True)
        expected = base64.b64decode(checksum, validate=True) if checksum else None
    except (binascii.Error, ValueError) as exc:
        raise PacketError("armor is not base64") from exc
    if expected is not None and int.from_bytes(expected, "big") != crc24(binary):
        raise PacketError("armor checksum mismatch")
    return binary


_ARMOR_BLOCK = 48 * 1024  # binary octets base64-encoded at a time: 1,024 lines of 64 characters


def armor(binary: bytes | bytearray, label: str = "PGP SIGNATURE") -> bytes:
    """ASCII armor with its CRC-24 line, LF line ends, lines of 64 characters (as gpg writes it); encoded a block
    at a time, so that a long message is not held as text twice over."""
    crc = base64.b64encode(crc24(binary).to_bytes(3, "big"))
    out = bytearray(f"-----BEGIN {label}-----\n\n".encode())
    view = memoryview(binary)
    for start in range(0, len(view), _ARMOR_BLOCK):
        text = binascii.b2a_base64(view[start:start + _ARMOR_BLOCK], newline=False)
        out += b"\n".join(text[i:i + 64] for i in range(0, len(text), 64)) + b"\n"
    out += b"=" + crc + f"\n-----END {label}-----\n".encode()
    return bytes(out)


@dataclass(frozen=True)
class Packet:
    tag: int
    body: bytes


def packets(binary: bytes) -> list[Packet]:
    """Split binary OpenPGP data into packets (old and new format headers; no partial lengths)."""
    out, pos = [], 0
    while pos < len(binary):
        tag, start, pos = _frame(binary, pos)
        out.append(Packet(tag, binary[start:pos]))
    return out


def first_packet(binary: bytes) -> Packet | None:
    """The first packet of *binary*, read by its header alone (what follows it is not looked at); None when
    there is none or it does not fit."""
    if not binary:
        return None
    try:
        tag, start, end = _frame(binary, 0)
    except PacketError:
        return None
    return Packet(tag, binary[start:end])


def _frame(binary: bytes, pos: int) -> tuple[int, int, int]:
    """The packet at pos: its tag, where its body starts and where it ends (PacketError if it does not fit)."""
    end = len(binary)
    head = binary[pos]
    if not head & 0x80:
        raise PacketError("not an OpenPGP packet header")
    if head & 0x40:  # new format
        tag = head & 0x3F
        length, pos = _new_length(binary, pos + 1, subpacket=False)
    else:
        tag, kind = (head >> 2) & 0x0F, head & 0x03
        if kind == 3:
            length, pos = end - pos - 1, pos + 1
        else:
            size = (1, 2, 4)[kind]
            if pos + 1 + size > end:
                raise PacketError("truncated packet header")
            length, pos = int.from_bytes(binary[pos + 1:pos + 1 + size], "big"), pos + 1 + size
    if pos + length > end:
        raise PacketError("truncated packet")
    return tag, pos, pos + length


def leading_tags(binary: bytes, *, limit: int) -> tuple[list[int], bool]:
    """The tags of the packets *binary* begins with, read by their headers alone, at most *limit* of them;
    and whether those packets end exactly where the data does. Reading stops at the first packet that does
    not fit (a truncated, partial-length or malformed one), which counts as not ending cleanly."""
    tags: list[int] = []
    pos = 0
    while pos < len(binary) and len(tags) < limit:
        try:
            tag, _start, pos = _frame(binary, pos)
        except PacketError:
            return tags, False
        tags.append(tag)
    return tags, pos == len(binary)


def armored_prefix(data: bytes, size: int) -> bytes:
    """The first *size* bytes (or fewer, if there are not so many) of the binary packets of armoured or
    binary data, decoded from just the armour lines that hold them: the checksum is not looked at, and
    characters outside base64 are skipped, as gpg skips them. No armour: b"" ."""
    stripped = data.lstrip()
    if stripped[:1] and stripped[0] & 0x80:
        return bytes(stripped[:size])
    begin = stripped.find(b"-----BEGIN PGP ")
    blank = _BLANK_LINE.search(stripped, begin) if begin != -1 else None
    if blank is None:
        return b""
    # Base64 is 4 characters for 3 bytes; twice that leaves room for line ends and stray characters.
    text = stripped[blank.end():blank.end() + (size // 3 + 1) * 8]
    for end in (b"\n=", b"-----END PGP "):  # the checksum line, the END line
        if (cut := text.find(end)) != -1:
            text = text[:cut]
    text = _NOT_BASE64.sub(b"", text)
    if len(text) % 4 == 1:  # a lone character holds no whole byte
        text = text[:-1]
    text += b"=" * (-len(text) % 4)
    return base64.b64decode(text)[:size]


def packet(tag: int, body: bytes) -> bytes:
    """One packet with a new-format header."""
    return packet_header(tag, len(body)) + body


def packet_header(tag: int, length: int) -> bytes:
    """The new-format header of a packet whose body is *length* octets (RFC 9580 §4.2.1)."""
    return bytes([0xC0 | tag]) + _encode_length(length)


def _new_length(data: bytes, pos: int, *, subpacket: bool) -> tuple[int, int]:
    """A new-format packet length, or a subpacket length (where 224-254 are two-octet lengths too)."""
    if pos >= len(data):
        raise PacketError("truncated length")
    first = data[pos]
    if first < 192:
        return first, pos + 1
    if first < (255 if subpacket else 224):
        if pos + 2 > len(data):
            raise PacketError("truncated length")
        return ((first - 192) << 8) + data[pos + 1] + 192, pos + 2
    if first == 255:
        if pos + 5 > len(data):
            raise PacketError("truncated length")
        return int.from_bytes(data[pos + 1:pos + 5], "big"), pos + 5
    raise PacketError("partial body lengths are not used for keys and signatures")


def _encode_length(n: int) -> bytes:
    if n < 192:
        return bytes([n])
    if n < 8384:
        n -= 192
        return bytes([(n >> 8) + 192, n & 0xFF])
    return b"\xff" + n.to_bytes(4, "big")


def read_mpi(data: bytes, pos: int, *, canonical: bool = False) -> tuple[bytes, int]:
    """The magnitude bytes of the MPI at pos (leading zeros stripped) and the position after it;
    canonical: its bit count must be the value's exact length (what every implementation writes)."""
    if pos + 2 > len(data):
        raise PacketError("truncated MPI")
    bits = int.from_bytes(data[pos:pos + 2], "big")
    size = (bits + 7) // 8
    if pos + 2 + size > len(data):
        raise PacketError("truncated MPI")
    value = data[pos + 2:pos + 2 + size]
    if canonical and size and value[0].bit_length() != bits - (size - 1) * 8:
        raise PacketError("MPI with a wrong bit count")
    return value.lstrip(b"\0"), pos + 2 + size


def _octets(data: bytes, pos: int, size: int, what: str) -> tuple[bytes, int]:
    """A field of fixed size at pos, and the position after it."""
    if pos + size > len(data):
        raise PacketError(f"truncated {what}")
    return data[pos:pos + size], pos + size


def mpi(value: bytes) -> bytes:
    """Encode big-endian magnitude bytes as an MPI."""
    value = value.lstrip(b"\0")
    bits = (len(value) - 1) * 8 + value[0].bit_length() if value else 0
    return bits.to_bytes(2, "big") + value


# -- keys ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KeyPacket:
    """A v4 public (sub)key, or the public part of a secret one; ``end`` is where its public part ends."""

    fingerprint: str
    created: int
    algorithm: int
    oid: bytes  # curve of ECDSA / EdDSA keys, else b""
    # RSA: (n, e); ECDSA / EdDSA legacy: (point,); ECDH: (point, KDF parameters with their size octet);
    # Ed25519: (32 octets,)
    material: tuple[bytes, ...]
    body: bytes
    end: int

    @property
    def key_id(self) -> str:
        return self.fingerprint[-16:]


def key_packet(body: bytes) -> KeyPacket:
    if len(body) < 6 or body[0] != 4:
        raise PacketError("only v4 keys are read here")
    created, algorithm, pos = int.from_bytes(body[1:5], "big"), body[5], 6
    oid = b""
    if algorithm in (RSA, RSA_SIGN):
        n, pos = read_mpi(body, pos)
        e, pos = read_mpi(body, pos)
        material: tuple[bytes, ...] = (n, e)
    elif algorithm in (ECDSA, EDDSA_LEGACY, ECDH):
        if pos >= len(body) or body[pos] in (0, 0xFF):
            raise PacketError("bad curve OID")
        oid, pos = body[pos + 1:pos + 1 + body[pos]], pos + 1 + body[pos]
        point, pos = read_mpi(body, pos)
        material = (point,)
        if algorithm == ECDH:  # the KDF parameters (RFC 9580 §5.5.5.6): their size, then as many octets
            if pos >= len(body):
                raise PacketError("truncated ECDH key")
            kdf, pos = _octets(body, pos, 1 + body[pos], "ECDH KDF parameters")
            material = (point, kdf)
    elif algorithm == ED25519:
        key, pos = _octets(body, pos, 32, "Ed25519 key")
        material = (key,)
    else:
        raise PacketError(f"public-key algorithm {algorithm} is not read here")
    public = body[:pos]
    fpr = hashlib.sha1(b"\x99" + len(public).to_bytes(2, "big") + public).hexdigest().upper()
    return KeyPacket(fpr, created, algorithm, oid, material, body, pos)


# -- signatures -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Subpacket:
    type: int
    critical: bool
    data: bytes


@dataclass(frozen=True)
class SignaturePacket:
    """A v4 signature: ``hashed_part`` is what the trailer covers (version to the end of the hashed area)."""

    sig_type: int
    algorithm: int
    hash_id: int
    hashed: tuple[Subpacket, ...]
    unhashed: tuple[Subpacket, ...]
    hashed_part: bytes
    left16: bytes
    values: tuple[bytes, ...]  # RSA: (m^d,); ECDSA / EdDSA legacy: (r, s); Ed25519: (64 octets,)

    def trailer(self) -> bytes:
        return self.hashed_part + b"\x04\xff" + len(self.hashed_part).to_bytes(4, "big")

    def first(self, kind: int, *, hashed_only: bool = False) -> bytes | None:
        for sub in self.hashed if hashed_only else (*self.hashed, *self.unhashed):
            if sub.type == kind:
                return sub.data
        return None

    @property
    def created(self) -> int | None:
        data = self.first(SUB_CREATED, hashed_only=True)
        return int.from_bytes(data, "big") if data and len(data) == 4 else None

    @property
    def issuers(self) -> list[str]:
        """Issuer fingerprints (v4) and key ids the packet names, a hint of which key to try; none at all
        when one of them is of another form (another key version, a wrong length): gpg decides."""
        out = []
        for sub in (*self.hashed, *self.unhashed):
            if sub.type == SUB_ISSUER_FPR and len(sub.data) == 21 and sub.data[0] == 4:
                out.append(sub.data[1:].hex().upper())
            elif sub.type == SUB_ISSUER_KEY_ID and len(sub.data) == 8:
                out.append(sub.data.hex().upper())
            elif sub.type in (SUB_ISSUER_FPR, SUB_ISSUER_KEY_ID):
                return []
        return out


def signature_packet(body: bytes) -> SignaturePacket:
    if len(body) < 6 or body[0] != 4:
        raise PacketError("only v4 signatures are read here")
    sig_type, algorithm, hash_id = body[1], body[2], body[3]
    hashed_len = int.from_bytes(body[4:6], "big")
    hashed_end = 6 + hashed_len
    if hashed_end + 2 > len(body):
        raise PacketError("truncated signature")
    unhashed_len = int.from_bytes(body[hashed_end:hashed_end + 2], "big")
    unhashed_end = hashed_end + 2 + unhashed_len
    if unhashed_end + 2 > len(body):
        raise PacketError("truncated signature")
    left16, pos = body[unhashed_end:unhashed_end + 2], unhashed_end + 2
    if algorithm in (RSA, RSA_SIGN):
        value, pos = read_mpi(body, pos, canonical=True)
        values: tuple[bytes, ...] = (value,)
    elif algorithm in (ECDSA, EDDSA_LEGACY):
        r, pos = read_mpi(body, pos, canonical=True)
        s, pos = read_mpi(body, pos, canonical=True)
        values = (r, s)
    elif algorithm == ED25519:
        native, pos = _octets(body, pos, 64, "Ed25519 signature")
        values = (native,)
    else:
        raise PacketError(f"public-key algorithm {algorithm} is not read here")
    if pos != len(body):
        raise PacketError("trailing data in a signature packet")
    return SignaturePacket(sig_type, algorithm, hash_id, _subpackets(body[6:hashed_end]),
                           _subpackets(body[hashed_end + 2:unhashed_end]), body[:hashed_end], left16, values)


def _subpackets(area: bytes) -> tuple[Subpacket, ...]:
    out, pos = [], 0
    while pos < len(area):
        length, pos = _new_length(area, pos, subpacket=True)
        if length == 0 or pos + length > len(area):
            raise PacketError("malformed signature subpacket")
        out.append(Subpacket(area[pos] & 0x7F, bool(area[pos] & 0x80), area[pos + 1:pos + length]))
        pos += length
    return tuple(out)


def subpacket(kind: int, data: bytes, *, critical: bool = False) -> bytes:
    return _encode_length(len(data) + 1) + bytes([kind | (0x80 if critical else 0)]) + data
