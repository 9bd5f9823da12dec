"""RFC 3156 structure analysis of raw message bytes: what is signed, what is encrypted."""

from __future__ import annotations

import binascii
import quopri
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.errors import HeaderParseError

from crypto.crlf import to_crlf
from crypto.errors import (
    ContentOutsideSignedPart, HeaderTooLong, InlinePgp, MalformedMime, NestingTooDeep,
    TooManyParts, Unsigned,
)


@dataclass(frozen=True)
class Limits:
    max_depth: int = 8
    max_parts: int = 64
    max_header_line: int = 4096


@dataclass(frozen=True)
class SignedEntity:
    signed_bytes: bytes
    signature: bytes
    micalg: str | None


@dataclass(frozen=True)
class Envelope:
    kind: str  # "signed" | "encrypted"
    signed: SignedEntity | None
    ciphertext: bytes | None


_LINE = re.compile(rb"[^\n]*\n|[^\n]+\Z")
_BLANK = re.compile(rb"\r?\n\r?\n")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_INLINE = re.compile(rb"^-----BEGIN PGP (SIGNED )?MESSAGE-----", re.M)


@dataclass
class _Part:
    """One MIME entity, with slices into the raw bytes it was read from."""

    headers: list[tuple[str, str]]
    params: Message
    content_type: str
    body: bytes
    raw: bytes  # headers + body, exactly as received
    children: list["_Part"] = field(default_factory=list)
    closed: bool = True  # multipart: the close delimiter was seen

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    @property
    def cte(self) -> str:
        return (self.header("content-transfer-encoding") or "7bit").strip().lower()

    def decoded(self) -> bytes:
        cte = self.cte
        if cte == "base64":
            try:
                return binascii.a2b_base64(self.body)
            except binascii.Error as exc:
                raise MalformedMime("a base64 part of the message cannot be decoded") from exc
        if cte == "quoted-printable":
            return quopri.decodestring(self.body)
        return self.body


class _Reader:
    """Reads a MIME tree from raw bytes, enforcing the limits as it goes."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.parts = 0

    def entity(self, raw: bytes, depth: int, ancestors: tuple[bytes, ...], top: bool = False) -> _Part:
        if depth > self.limits.max_depth:
            raise NestingTooDeep(f"the MIME structure is nested deeper than {self.limits.max_depth} levels")
        self.parts += 1
        if self.parts > self.limits.max_parts:
            raise TooManyParts(f"the message has more than {self.limits.max_parts} MIME parts")
        if top and raw.startswith(b"From "):  # mbox separator line
            raw = raw[raw.find(b"\n") + 1:] if b"\n" in raw else b""
        head, body = _split_head(raw)
        headers = _read_headers(head, self.limits)
        params = Message()
        cts = [v for k, v in headers if k.lower() == "content-type"]
        if len(cts) > 1:
            raise MalformedMime("a MIME part has more than one Content-Type header")
        if cts:
            params["Content-Type"] = cts[0]
        content_type = params.get_content_type() if cts else "text/plain"
        part = _Part(headers, params, content_type, body, raw)
        if content_type.startswith("multipart/"):
            boundary = params.get_boundary()
            if not boundary:
                raise MalformedMime(f"a {content_type} part has no boundary")
            b = boundary.encode("ascii", "replace")
            for a in ancestors:
                if a.startswith(b) or b.startswith(a):
                    raise MalformedMime("a nested MIME part reuses the boundary of an enclosing part")
            chunks, part.closed = _split_multipart(body, b)
            for chunk in chunks:
                part.children.append(self.entity(chunk, depth + 1, ancestors + (b,)))
        return part


def _split_head(raw: bytes) -> tuple[bytes, bytes]:
    if raw.startswith(b"\r\n"):
        return b"", raw[2:]
    if raw.startswith(b"\n"):
        return b"", raw[1:]
    m = _BLANK.search(raw)
    if not m:
        return raw, b""
    return raw[: m.start()], raw[m.end():]


def _read_headers(head: bytes, limits: Limits) -> list[tuple[str, str]]:
    """Unfolded (name, value) header fields; value text is the raw bytes as latin-1-free str."""
    fields: list[list[bytes]] = []
    for line in head.splitlines():
        if line[:1] in (b" ", b"\t"):
            if not fields:
                raise MalformedMime("a MIME part starts with a folded header line")
            fields[-1].append(line)
        elif line:
            fields.append([line])
    out = []
    for lines in fields:
        unfolded = b"".join(lines)
        if len(unfolded) > limits.max_header_line:
            raise HeaderTooLong(f"a header field is longer than {limits.max_header_line} characters")
        name, sep, value = unfolded.partition(b":")
        if not sep or not name or re.search(rb"[\x00-\x20\x7f-\xff]", name):
            raise MalformedMime("a header line of the message is not a header field")
        text = value.strip().decode("utf-8", "replace")
        _check_encoded_words(text)
        out.append((name.decode("ascii"), text))
    return out


def _check_encoded_words(text: str) -> None:
    for word in _ENCODED_WORD.findall(text):
        try:
            decoded = str(make_header(decode_header(word)))
        except (HeaderParseError, LookupError, UnicodeError, ValueError):
            continue
        if "\r" in decoded or "\n" in decoded:
            raise MalformedMime("an encoded header word hides a line break")


def _split_multipart(body: bytes, boundary: bytes) -> tuple[list[bytes], bool]:
    """Body parts between delimiter lines; the line end before a delimiter belongs to it.

    Only lines that begin with "--boundary" can be delimiters: they are found with find(), not by
    walking every line of the body.
    """
    dash = b"--" + boundary
    parts: list[bytes] = []
    start: int | None = None
    at = body.find(dash)
    while at != -1:
        if at and body[at - 1:at] != b"\n":  # not at the start of a line
            at = body.find(dash, at + 1)
            continue
        newline = body.find(b"\n", at)
        line_end = len(body) if newline == -1 else newline + 1
        rest = body[at + len(dash):line_end].rstrip(b"\r\n")
        close = rest.startswith(b"--")
        if close:
            rest = rest[2:]
        if rest.strip(b" \t"):
            at = body.find(dash, line_end)
            continue
        if start is not None:
            end = at
            if body[end - 2:end] == b"\r\n":
                end -= 2
            elif body[end - 1:end] == b"\n":
                end -= 1
            parts.append(body[start:max(start, end)])
        if close:
            return parts, True
        start = line_end
        at = body.find(dash, line_end)
    if start is not None and body[start:].strip():
        parts.append(body[start:])
    return parts, False


def _walk(part: _Part):
    yield part
    for child in part.children:
        yield from _walk(child)


def _signed(part: _Part) -> SignedEntity:
    protocol = (part.params.get_param("protocol") or "").lower()
    if protocol != "application/pgp-signature":
        raise MalformedMime('multipart/signed must have protocol="application/pgp-signature"')
    if not part.closed:
        raise MalformedMime("the signed part has no closing boundary")
    if len(part.children) != 2:
        raise MalformedMime("multipart/signed must hold exactly two parts: the content and the signature")
    content, sig = part.children
    if sig.content_type != "application/pgp-signature":
        raise MalformedMime("the second part of multipart/signed is not an application/pgp-signature")
    for leaf in _walk(content):
        if not leaf.children and leaf.cte in ("7bit", "") and not leaf.body.isascii():
            raise MalformedMime("the signed part holds 8-bit data: encode it (quoted-printable or base64)")
    micalg = part.params.get_param("micalg")
    return SignedEntity(to_crlf(content.raw), sig.decoded(), micalg.lower() if micalg else None)


def _version_part(part: _Part) -> bool:
    return part.content_type == "application/pgp-encrypted" and re.search(
        rb"^\s*Version:\s*1\s*$", part.decoded(), re.M) is not None


def _encrypted(part: _Part) -> Envelope:
    kids = part.children
    if len(kids) < 2 or not _version_part(kids[0]):
        raise MalformedMime('multipart/encrypted lacks its application/pgp-encrypted "Version: 1" part')
    if len(kids) != 2 or kids[1].content_type != "application/octet-stream":
        raise MalformedMime("multipart/encrypted must hold the version part and one application/octet-stream")
    return Envelope("encrypted", None, kids[1].decoded())


def _exchange(part: _Part) -> Envelope | None:
    """Microsoft Exchange re-wraps PGP/MIME as multipart/mixed: [empty text/plain], version, ciphertext."""
    kids = list(part.children)
    if kids and kids[0].content_type == "text/plain" and not kids[0].decoded().strip():
        kids = kids[1:]
    if (len(kids) == 2 and _version_part(kids[0])
            and kids[1].content_type == "application/octet-stream"
            and b"-----BEGIN PGP MESSAGE-----" in kids[1].decoded()):
        return Envelope("encrypted", None, kids[1].decoded())
    return None


def _classify(top: _Part) -> Envelope:
    if top.content_type == "multipart/signed":
        return Envelope("signed", _signed(top), None)
    if top.content_type == "multipart/encrypted":
        return _encrypted(top)
    if top.content_type == "multipart/mixed":
        mangled = _exchange(top)
        if mangled:
            return mangled
    nested = [p for p in _walk(top) if p is not top
              and p.content_type in ("multipart/signed", "multipart/encrypted")]
    if nested:
        if len(top.children) == 1 and top.children[0] is nested[0]:
            return _classify(nested[0])
        raise ContentOutsideSignedPart(
            "the message carries content outside the signed part: send only the PGP/MIME message")
    for leaf in _walk(top):
        if not leaf.children and leaf.content_type.startswith("text/") and _INLINE.search(leaf.decoded()):
            raise InlinePgp("inline PGP is not accepted: send the message as PGP/MIME (RFC 3156)")
    raise Unsigned("message is not signed: send it PGP/MIME-signed (RFC 3156)")


def analyse(raw: bytes, limits: Limits = Limits()) -> Envelope:
    """Classify a received message as PGP/MIME signed or encrypted, or raise a MimeError."""
    return _classify(_Reader(limits).entity(raw, 0, (), top=True))


def analyse_inner(plaintext: bytes, limits: Limits = Limits()) -> Envelope | None:
    """After decryption: the signed Envelope of an encapsulated message, or None for a plain entity."""
    top = _Reader(limits).entity(plaintext, 0, ())
    if top.content_type == "multipart/signed":
        return Envelope("signed", _signed(top), None)
    return None


def header_fields(raw: bytes) -> Message:
    """The top-level header of a message as email's compat32 parser reads it, without feeding it the body.

    The header ends at the first empty line (CRLF or LF-only input); the parser never reads past it, so
    handing it only that much gives the same fields for a fraction of the work on a large message.
    """
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if i >= 0]
    head = raw[:min(ends) + 1] if ends else raw
    return BytesHeaderParser(policy=compat32).parsebytes(head)


def payload_headers(entity: bytes) -> list[tuple[str, str]]:
    """Top-level header fields of an entity (RFC 9788 protected headers), RFC 2047-decoded, in order."""
    head, _ = _split_head(entity)
    out = []
    for name, value in _read_headers(head, Limits(max_header_line=1 << 20)):
        try:
            text = str(make_header(decode_header(value)))
        except (HeaderParseError, LookupError, UnicodeError, ValueError):
            text = value
        out.append((name, text))
    return out


def first_text(entity: bytes, *, max_chars: int = 4096) -> str:
    """Decoded text of the first text/plain part, depth-first (attachments skipped); "" if none."""
    top = _Reader(Limits()).entity(entity, 0, ())
    for part in _walk(top):
        if part.children or part.content_type != "text/plain":
            continue
        disposition = (part.header("content-disposition") or "").split(";")[0].strip().lower()
        if disposition == "attachment" or part.params.get_param("hp-legacy-display"):
            continue
        charset = part.params.get_content_charset() or "us-ascii"
        data = part.decoded()
        try:
            text = data.decode(charset, "replace")
        except LookupError:
            text = data.decode("utf-8", "replace")
        return text.replace("\r\n", "\n")[:max_chars]
    return ""
