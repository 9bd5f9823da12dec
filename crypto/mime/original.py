"""A sender's original as its recipient's own client verifies it: the outer header around a decrypted entity, and
a signed OpenPGP message (its encryption layer removed by gpg --unwrap) split into the signed data and its
detached signature (RFC 9580 §4.2 packet framing with partial lengths, §5.4 one-pass, §5.6 compressed, §5.9
literal data), to be re-assembled as RFC 3156 multipart/signed."""

from __future__ import annotations

import bz2
import zlib
from dataclasses import dataclass

from crypto.mime.compose import signed_entity
from crypto.mime.crlf import to_crlf
from crypto.errors import PacketError
from crypto.openpgp.gpg import HASH_NAMES
from crypto.openpgp.packets import TAG_SIGNATURE, armor, packet, signature_packet

TAG_ONE_PASS, TAG_COMPRESSED, TAG_MARKER, TAG_LITERAL = 4, 8, 10, 11
TEXT_SIGNATURE = 0x01  # a signature over canonical text: line ends do not change its verdict (RFC 9580 §5.2.1)

_ENTITY_HEADERS = (b"content-type:", b"content-transfer-encoding:", b"content-disposition:", b"mime-version:")


def outer_headers(raw: bytes) -> bytes:
    """The header section of *raw* without the fields that describe its (encrypted) body, CRLF-ended, then
    MIME-Version: what goes around a decrypted entity to make it a message again."""
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if i >= 0]
    head = raw[:min(ends) + 1] if ends else raw  # the header section alone, its last line end included
    kept: list[bytes] = []
    skipping = False
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        if line == b"":
            break
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.lower().startswith(_ENTITY_HEADERS)
        if not skipping:
            kept.append(line)
    return b"".join(line + b"\r\n" for line in kept) + b"MIME-Version: 1.0\r\n"


@dataclass(frozen=True)
class SignedData:
    """What a signed OpenPGP message holds: the data, and the signature packets over it (b"" when none)."""

    data: bytes
    signatures: bytes  # binary signature packets, each as a new-format packet
    hash_id: int | None
    text_mode: bool  # every signature is over canonical text

    @property
    def micalg(self) -> str:
        name = HASH_NAMES.get(self.hash_id or 0)
        if name is None:
            raise PacketError(f"hash algorithm {self.hash_id} has no micalg name")
        return "pgp-" + name.lower()

    def survives_mail(self) -> bool:
        """Whether the signature still verifies once a mail client puts the data in canonical CRLF form, as it does
        with the first part of a multipart/signed (RFC 3156 §5)."""
        return bool(self.signatures) and (self.text_mode or to_crlf(self.data) == self.data)

    def as_multipart_signed(self) -> bytes:
        """The data and its signature as a multipart/signed entity (Content-Type field first): the data exactly as
        signed, the signature exactly as made."""
        if not self.signatures:
            raise PacketError("the message carries no signature")
        return signed_entity(self.data, armor(self.signatures), self.micalg)


def split(message: bytes, *, limit: int) -> SignedData:
    """The literal data of an unwrapped (binary) OpenPGP message and its signatures; compressed data is
    decompressed to at most *limit* bytes. Anything else than one literal packet, one-pass and signature
    packets around it, one level of compression: PacketError."""
    found = _packets(message)
    if found and found[0][0] == TAG_COMPRESSED:
        if len(found) != 1:
            raise PacketError("data after a compressed packet")
        found = _packets(_decompress(found[0][1], limit))
    literals = [body for tag, body in found if tag == TAG_LITERAL]
    signatures = [body for tag, body in found if tag == TAG_SIGNATURE]
    others = sorted({tag for tag, _ in found if tag not in (TAG_LITERAL, TAG_SIGNATURE, TAG_ONE_PASS, TAG_MARKER)})
    if len(literals) != 1 or others:
        raise PacketError(f"not a signed literal message (packets {others or 'without one literal'})")
    parsed = [signature_packet(body) for body in signatures]
    hashes = {p.hash_id for p in parsed}
    if len(hashes) > 1:
        raise PacketError("signatures with different hash algorithms")
    data = _literal_data(literals[0])
    if len(data) > limit:
        raise PacketError(f"literal data larger than {limit} bytes")
    return SignedData(data, b"".join(packet(TAG_SIGNATURE, body) for body in signatures),
                      hashes.pop() if hashes else None,
                      bool(parsed) and all(p.sig_type == TEXT_SIGNATURE for p in parsed))


def _packets(data: bytes) -> list[tuple[int, bytes]]:
    """(tag, body) of each packet; new-format partial lengths joined, an old-format indeterminate length
    running to the end."""
    out: list[tuple[int, bytes]] = []
    pos, end = 0, len(data)
    while pos < end:
        head = data[pos]
        if not head & 0x80:
            raise PacketError("not an OpenPGP packet header")
        if head & 0x40:
            tag, pos = head & 0x3F, pos + 1
            chunks = []
            while True:
                length, pos, partial = _new_length(data, pos)
                if pos + length > end:
                    raise PacketError("truncated packet")
                chunks.append(data[pos:pos + length])
                pos += length
                if not partial:
                    break
            out.append((tag, b"".join(chunks)))
            continue
        tag, kind = (head >> 2) & 0x0F, head & 0x03
        if kind == 3:
            out.append((tag, data[pos + 1:]))
            break
        size = (1, 2, 4)[kind]
        if pos + 1 + size > end:
            raise PacketError("truncated packet header")
        length, pos = int.from_bytes(data[pos + 1:pos + 1 + size], "big"), pos + 1 + size
        if pos + length > end:
            raise PacketError("truncated packet")
        out.append((tag, data[pos:pos + length]))
        pos += length
    return out


def _new_length(data: bytes, pos: int) -> tuple[int, int, bool]:
    """A new-format body length at *pos*: (length, position after it, whether it is a partial length)."""
    if pos >= len(data):
        raise PacketError("truncated length")
    first = data[pos]
    if first < 192:
        return first, pos + 1, False
    if first < 224:
        if pos + 2 > len(data):
            raise PacketError("truncated length")
        return ((first - 192) << 8) + data[pos + 1] + 192, pos + 2, False
    if first == 255:
        if pos + 5 > len(data):
            raise PacketError("truncated length")
        return int.from_bytes(data[pos + 1:pos + 5], "big"), pos + 5, False
    return 1 << (first & 0x1F), pos + 1, True


def _decompress(body: bytes, limit: int) -> bytes:
    """A compressed packet's content (RFC 9580 §5.6: 0 none, 1 ZIP, 2 ZLIB, 3 BZip2), at most *limit* bytes:
    compressed data expands without bound, so it is read with a cap, never whole."""
    if not body:
        raise PacketError("empty compressed packet")
    algorithm, payload = body[0], body[1:]
    if algorithm == 0:
        out = payload
    elif algorithm in (1, 2):
        inflater = zlib.decompressobj(-15 if algorithm == 1 else 15)
        try:
            out = inflater.decompress(payload, limit + 1)
        except zlib.error as exc:
            raise PacketError("corrupt compressed data") from exc
    elif algorithm == 3:
        try:
            out = bz2.BZ2Decompressor().decompress(payload, limit + 1)
        except (OSError, EOFError) as exc:
            raise PacketError("corrupt compressed data") from exc
    else:
        raise PacketError(f"compression algorithm {algorithm} is not read here")
    if len(out) > limit:
        raise PacketError(f"compressed data expands beyond {limit} bytes")
    return out


def _literal_data(body: bytes) -> bytes:
    """The data of a literal data packet (RFC 9580 §5.9: format, file name, date, then the data)."""
    if len(body) < 2 or len(body) < 2 + body[1] + 4:
        raise PacketError("truncated literal data packet")
    return body[2 + body[1] + 4:]
