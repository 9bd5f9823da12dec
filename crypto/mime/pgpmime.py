"""RFC 3156 structure analysis of raw message bytes: what is signed, what is encrypted, on the one reading
of the message (crypto/mime/reader.py) that admission also takes the headers from."""

from __future__ import annotations

import re
from dataclasses import dataclass

from crypto.errors import ContentOutsideSignedPart, InlinePgp, MalformedMime, PacketError, Unsigned
from crypto.mime.crlf import to_crlf
from crypto.mime.reader import Limits, Part, read
from crypto.openpgp.packets import TAG_SIGNATURE, dearmor, first_packet, read_armor

__all__ = ["Envelope", "Limits", "Part", "SignedEntity", "analyse", "analyse_inner", "classify", "first_text",
           "is_pgp_mime", "payload_headers", "read", "signed_part"]

# RFC 9580 §9.5 hash ids gpg computes, and their RFC 3156 micalg names.
MICALG = {1: "pgp-md5", 2: "pgp-sha1", 3: "pgp-ripemd160", 8: "pgp-sha256", 9: "pgp-sha384", 10: "pgp-sha512",
          11: "pgp-sha224"}


@dataclass(frozen=True)
class SignedEntity:
    signed_bytes: bytes  # the signed entity in canonical CRLF form, as the signature covers it
    signature: bytes
    micalg: str | None
    entity: Part  # the signed entity as read: its headers are the protected ones (RFC 9788)


@dataclass(frozen=True)
class Envelope:
    """A received message as read once: its structure and headers, and what in it is signed or encrypted."""

    kind: str  # "signed" | "encrypted"
    signed: SignedEntity | None
    ciphertext: bytes | None
    message: Part  # the whole message: outer headers, structure


_INLINE = re.compile(rb"^-----BEGIN PGP (SIGNED )?MESSAGE-----", re.M)


def _hash_id(body: bytes) -> int | None:
    """The hash algorithm of a signature packet's body; None when it is too short to say (gpg decides)."""
    at = 15 if body[:1] == b"\x03" else 3  # v3: version, 5, type, time, key id, algorithm, hash; v4-6: version, type, algorithm, hash
    return body[at] if len(body) > at else None


def signed_part(part: Part) -> SignedEntity:
    """The content and signature of a multipart/signed part (RFC 3156 §5), or MalformedMime."""
    if (part.param("protocol") or "").lower() != "application/pgp-signature":
        raise MalformedMime('multipart/signed must have protocol="application/pgp-signature"')
    if len(part.children) != 2:
        raise MalformedMime("multipart/signed must hold exactly two parts: the content and the signature")
    content, sig = part.children
    if sig.content_type != "application/pgp-signature":
        raise MalformedMime("the second part of multipart/signed is not an application/pgp-signature")
    for leaf in content.walk():
        if not leaf.children and leaf.cte in ("7bit", "") and not leaf.body.isascii():
            raise MalformedMime("the signed part holds 8-bit data: encode it (quoted-printable or base64)")
    micalg = (part.param("micalg") or "").lower() or None
    signature = sig.decoded()
    try:  # the armor as gpg reads it, or refused: then no reader sees another signature
        first = first_packet(dearmor(signature, "SIGNATURE"))
    except PacketError as exc:
        raise MalformedMime(f"the signature part: {exc} (RFC 9580 6.2)") from exc
    # That the part holds one signature packet and nothing else, the adapter checks before any signature
    # check (crypto/openpgp/gpg.py, verify_detached); here its first packet gives the hash micalg must name.
    hash_id = _hash_id(first.body) if first is not None and first.tag == TAG_SIGNATURE else None
    if hash_id is not None:
        name = MICALG.get(hash_id)
        if name is None:
            raise MalformedMime(f"the signature uses hash algorithm {hash_id}, which gpg does not know: "
                                "sign with SHA-256 or SHA-512")
        if micalg is not None and name not in {m.strip() for m in micalg.split(",")}:
            raise MalformedMime(f"micalg={micalg} does not name the signature's hash ({name})")
    return SignedEntity(to_crlf(content.raw), signature, micalg, content)


def _version_part(part: Part) -> bool:
    return part.content_type == "application/pgp-encrypted" and re.search(
        rb"^\s*Version:\s*1\s*$", part.decoded(), re.M) is not None


def _ciphertext(part: Part, top: Part) -> Envelope:
    """The encrypted message of an application/octet-stream part: binary, or one armor block as gpg reads it."""
    data = part.decoded()
    if not (data[:1] and data[0] & 0x80):
        try:
            read_armor(data, "MESSAGE")  # its checksum and packets are gpg's to read
        except PacketError as exc:
            raise MalformedMime(f"the encrypted part: {exc} (RFC 9580 6.2)") from exc
    return Envelope("encrypted", None, data, top)


def _encrypted(part: Part, top: Part) -> Envelope:
    kids = part.children
    if len(kids) < 2 or not _version_part(kids[0]):
        raise MalformedMime('multipart/encrypted lacks its application/pgp-encrypted "Version: 1" part')
    if len(kids) != 2 or kids[1].content_type != "application/octet-stream":
        raise MalformedMime("multipart/encrypted must hold the version part and one application/octet-stream")
    return _ciphertext(kids[1], top)


def _exchange(part: Part, top: Part) -> Envelope | None:
    """Microsoft Exchange re-wraps PGP/MIME as multipart/mixed: [empty text/plain], version, ciphertext."""
    kids = list(part.children)
    if kids and kids[0].content_type == "text/plain" and not kids[0].decoded().strip():
        kids = kids[1:]
    if (len(kids) == 2 and _version_part(kids[0])
            and kids[1].content_type == "application/octet-stream"
            and b"-----BEGIN PGP MESSAGE-----" in kids[1].decoded()):
        return _ciphertext(kids[1], top)
    return None


def classify(top: Part) -> Envelope:
    """What in a message read by :func:`read` is signed or encrypted; Unsigned, InlinePgp, ContentOutsideSignedPart
    or MalformedMime otherwise."""
    return _classify(top, top)


def _classify(part: Part, top: Part) -> Envelope:
    if part.content_type == "multipart/signed":
        return Envelope("signed", signed_part(part), None, top)
    if part.content_type == "multipart/encrypted":
        return _encrypted(part, top)
    if part.content_type == "multipart/mixed":
        mangled = _exchange(part, top)
        if mangled:
            return mangled
    nested = [p for p in part.walk() if p is not part
              and p.content_type in ("multipart/signed", "multipart/encrypted")]
    if nested:
        if len(part.children) == 1 and part.children[0] is nested[0]:
            return _classify(nested[0], top)
        raise ContentOutsideSignedPart(
            "the message carries content outside the signed part: send only the PGP/MIME message")
    for leaf in part.walk():
        if not leaf.children and leaf.content_type.startswith("text/") and _INLINE.search(leaf.decoded()):
            raise InlinePgp("inline PGP is not accepted: send the message as PGP/MIME (RFC 3156)")
    raise Unsigned("message is not signed: send it PGP/MIME-signed (RFC 3156)")


def is_pgp_mime(top: Part) -> bool:
    """Whether a message is PGP/MIME at its top (signed or encrypted), as an MDN or a partner's message is."""
    return top.content_type in ("multipart/signed", "multipart/encrypted")


def analyse(raw: bytes, limits: Limits = Limits()) -> Envelope:
    """Read a received message once and classify it as PGP/MIME signed or encrypted, or raise a MimeError."""
    return classify(read(raw, limits))


def analyse_inner(plaintext: bytes, limits: Limits = Limits()) -> Envelope | None:
    """After decryption: the signed Envelope of an encapsulated message, or None for a plain entity."""
    top = read(plaintext, limits)
    if top.content_type == "multipart/signed":
        return Envelope("signed", signed_part(top), None, top)
    return None


def payload_headers(entity: bytes) -> list[tuple[str, str]]:
    """Top-level header fields of an entity (RFC 9788 protected headers), RFC 2047-decoded, in order."""
    return read(entity).decoded_headers()


def first_text(entity: bytes, *, max_chars: int = 4096) -> str:
    """Decoded text of the first text/plain part, depth-first (attachments skipped); "" if none."""
    return read(entity).first_text(max_chars=max_chars)
