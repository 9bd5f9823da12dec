"""One reading of a MIME message's raw bytes: an immutable tree of parts, limits enforced, ambiguity refused.

Everything that decides about a received message reads it through :func:`read`, once: the structure
the signature check uses is the structure the headers (From, Message-ID, routing fields) come from.
Whatever two MIME readers could read differently is refused rather than guessed (RFC 5322, RFC 2045-2046):

- a NUL byte, or a CR that is not part of a CRLF, anywhere in the message (Python's email reads a bare CR
  as a line end, this reader does not: the two would see different header blocks and parts);
- 8-bit bytes in a header section (the gateway does not offer SMTPUTF8; RFC 6532 needs it);
- a header line that is not a field, a folded first line, two fields of a kind that occurs once
  (From, Message-ID, Content-Type ...), two parameters of one name in a Content-Type;
- a multipart without a boundary, with a boundary outside RFC 2046's syntax, or reusing an enclosing one;
  a multipart without its closing delimiter (readers disagree on where its last part ends), or with a
  delimiter line after it (a part after the end);
- a transfer encoding other than 7bit, 8bit or binary on a multipart (RFC 2045 §6.4).

Limits bite before the costly step they guard: a header section is looked for only within
``max_header_bytes`` and counted as it is split; depth and part count are checked before a part is read.
"""

from __future__ import annotations

import binascii
import quopri
import re
from dataclasses import dataclass
from typing import NamedTuple
from email.header import decode_header, make_header
from email.errors import HeaderParseError
from email.message import Message
from email.utils import collapse_rfc2231_value

from crypto.errors import (
    HeaderBlockTooLarge, HeaderTooLong, MalformedMime, NestingTooDeep, TooManyHeaderFields, TooManyParts,
)


@dataclass(frozen=True)
class Limits:
    max_depth: int = 8
    max_parts: int = 64
    max_header_line: int = 4096
    max_header_bytes: int = 256 * 1024  # one header section: of the message, or of one part
    max_header_fields: int = 1000  # fields in one header section


# Fields a message or part carries at most once (RFC 5322 §3.6, RFC 2045 §3): with two, readers disagree.
SINGLE_FIELDS = frozenset({
    "from", "sender", "reply-to", "to", "cc", "bcc", "message-id", "in-reply-to", "references", "subject",
    "date", "mime-version", "content-type", "content-transfer-encoding", "content-disposition",
})
IDENTITY_ENCODINGS = ("7bit", "8bit", "binary")
_BLANK = re.compile(rb"\r?\n\r?\n")
_NAME_BAD = re.compile(rb"[\x00-\x20\x7f-\xff]")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_TOKEN = r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+"  # RFC 2045 token: no space, control or tspecial
_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}")
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")


@dataclass(frozen=True)
class Part:
    """One MIME entity as read: its header fields (unfolded, in order), its type and parameters, its bytes."""

    headers: tuple[tuple[str, str], ...]
    content_type: str
    params: tuple[tuple[str, str], ...]  # Content-Type parameters, names lower-case, each once
    body: bytes
    raw: bytes  # headers + body, exactly as received
    children: tuple["Part", ...] = ()

    def header(self, name: str) -> str | None:
        """The value of the field *name* (case-insensitive), or None."""
        return _field(self.headers, name.lower())

    def param(self, name: str) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
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

    def walk(self):
        """This part and every part inside it, depth-first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def decoded_headers(self) -> list[tuple[str, str]]:
        """The header fields RFC 2047-decoded (the protected headers of RFC 9788, for a signed entity)."""
        return decoded_fields(self.headers)

    def text(self) -> str:
        """This part's body as text in its declared charset (UTF-8 when that names no text codec), CRLF as LF."""
        data = self.decoded()
        charset = self.param("charset") or "us-ascii"
        try:
            text = data.decode(charset, "replace")
        except (LookupError, ValueError):  # no such codec, not a text codec (rot13), no "replace" handler (idna)
            text = data.decode("utf-8", "replace")
        return text.replace("\r\n", "\n")

    def first_text(self, *, max_chars: int = 4096) -> str:
        """Text of the first inline text/plain part, depth-first (attachments skipped); "" if none."""
        for part in self.walk():
            if part.children or part.content_type != "text/plain":
                continue
            disposition = (part.header("content-disposition") or "").split(";")[0].strip().lower()
            if disposition == "attachment" or part.param("hp-legacy-display"):
                continue
            return part.text()[:max_chars]
        return ""


def read(raw: bytes, limits: Limits = Limits()) -> Part:
    """The MIME tree of a whole message (or of a decrypted entity), or a MimeError saying what is refused."""
    if b"\x00" in raw:
        raise MalformedMime("the message holds a NUL byte")
    if raw.count(b"\r") != raw.count(b"\r\n"):
        raise MalformedMime("the message holds a CR that does not end a line (bare CR): send CRLF line ends")
    if raw.startswith(b"From "):  # an mbox separator line, as Python's email reads it too
        raw = raw[raw.find(b"\n") + 1:] if b"\n" in raw else b""
    return _Reader(limits).entity(raw, 0, ())


def read_fields(head: bytes, limits: Limits = Limits()) -> list[tuple[str, str]]:
    """Unfolded (name, value) fields of a header section (or of any block written like one, a DSN's)."""
    if len(head) > limits.max_header_bytes:
        raise HeaderBlockTooLarge(f"a header section is larger than {limits.max_header_bytes} bytes")
    fields: list[list[bytes]] = []
    for line in head.splitlines():
        if line[:1] in (b" ", b"\t"):
            if not fields:
                raise MalformedMime("a MIME part starts with a folded header line")
            fields[-1].append(line)
        elif line:
            fields.append([line])
            if len(fields) > limits.max_header_fields:
                raise TooManyHeaderFields(f"a header section has more than {limits.max_header_fields} fields")
    out = []
    for lines in fields:
        unfolded = b"".join(lines)
        if len(unfolded) > limits.max_header_line:
            raise HeaderTooLong(f"a header field is longer than {limits.max_header_line} characters")
        name, sep, value = unfolded.partition(b":")
        if not sep or not name or _NAME_BAD.search(name):
            raise MalformedMime("a header line of the message is not a header field")
        out.append((name.decode("ascii"), value.strip().decode("utf-8", "replace")))
    return out


def decoded_fields(fields) -> list[tuple[str, str]]:
    """(name, value) fields with their values RFC 2047-decoded; a value that does not decode is kept as it is."""
    out = []
    for name, value in fields:
        try:
            text = str(make_header(decode_header(value)))
        except (HeaderParseError, LookupError, UnicodeError, ValueError):
            text = value
        out.append((name, text))
    return out


def split_head(raw: bytes, limits: Limits = Limits()) -> tuple[bytes, bytes]:
    """Header section and body: the header ends at the first empty line, looked for within the limit only."""
    if raw.startswith(b"\r\n"):
        return b"", raw[2:]
    if raw.startswith(b"\n"):
        return b"", raw[1:]
    m = _BLANK.search(raw, 0, limits.max_header_bytes + 4)
    if m is None or m.start() > limits.max_header_bytes:
        if len(raw) > limits.max_header_bytes:
            raise HeaderBlockTooLarge(f"the header section is larger than {limits.max_header_bytes} bytes "
                                      "(or the empty line that ends it is missing)")
        return raw, b""
    return raw[: m.start()], raw[m.end():]


class _Reader:
    """Reads a MIME tree from raw bytes, enforcing the limits as it goes."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.parts = 0

    def entity(self, raw: bytes, depth: int, ancestors: tuple[bytes, ...]) -> Part:
        if depth > self.limits.max_depth:
            raise NestingTooDeep(f"the MIME structure is nested deeper than {self.limits.max_depth} levels")
        self.parts += 1
        if self.parts > self.limits.max_parts:
            raise TooManyParts(f"the message has more than {self.limits.max_parts} MIME parts")
        head, body = split_head(raw, self.limits)
        if not head.isascii():
            raise MalformedMime("a header field holds 8-bit bytes: encode it (RFC 2047)")
        headers = tuple(read_fields(head, self.limits))
        _check_headers(headers)
        content_type, params = _content_type(_field(headers, "content-type"))
        part = Part(headers, content_type, params, body, raw)
        if not content_type.startswith("multipart/"):
            return part
        if part.cte not in IDENTITY_ENCODINGS:
            raise MalformedMime(f"a {content_type} part has Content-Transfer-Encoding {part.cte}: "
                                "a multipart is never encoded (RFC 2045 6.4)")
        boundary = part.param("boundary")
        if not boundary:
            raise MalformedMime(f"a {content_type} part has no boundary")
        if not _BOUNDARY.fullmatch(boundary):
            raise MalformedMime(f"a {content_type} part has a boundary outside RFC 2046's syntax")
        b = boundary.encode("ascii")
        for a in ancestors:
            if a.startswith(b) or b.startswith(a):
                raise MalformedMime("a nested MIME part reuses the boundary of an enclosing part")
        split = split_multipart(body, b)
        if not split.closed:  # where its last part ends (an empty one before the parent's delimiter?) readers disagree
            raise MalformedMime(f"a {content_type} part has no closing boundary")
        if not split.parts:
            raise MalformedMime(f"a {content_type} part holds no part (RFC 2046 5.1.1 asks for one at least)")
        if split.adjacent:
            raise MalformedMime(f"a {content_type} part has two delimiter lines in a row (an empty part)")
        if _delimiter_in(body, split.epilogue, b"--" + b):
            raise MalformedMime(f"a part follows the closing boundary of a {content_type} part")
        children = tuple(self.entity(chunk, depth + 1, ancestors + (b,)) for chunk in split.parts)
        return Part(headers, content_type, params, body, raw, children)


def _field(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _check_headers(headers: tuple[tuple[str, str], ...]) -> None:
    seen: set[str] = set()
    for name, value in headers:
        key = name.lower()
        if key in SINGLE_FIELDS:
            if key in seen:
                raise MalformedMime(f"a MIME part has more than one {name} header")
            seen.add(key)
        for word in _ENCODED_WORD.findall(value):
            try:
                decoded = str(make_header(decode_header(word)))
            except (HeaderParseError, LookupError, UnicodeError, ValueError):
                continue
            if "\r" in decoded or "\n" in decoded:
                raise MalformedMime("an encoded header word hides a line break")


def _content_type(value: str | None) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Type and parameters of a Content-Type value (RFC 2045 §5.1, RFC 2231 continuations); text/plain if none."""
    if value is None:
        return "text/plain", ()
    holder = Message()
    holder["Content-Type"] = value
    try:
        pairs = holder.get_params() or []
        content_type = holder.get_content_type()
    except (LookupError, ValueError, IndexError) as exc:
        raise MalformedMime("the Content-Type parameters cannot be read") from exc
    if not _TYPE.fullmatch(content_type):
        raise MalformedMime("a Content-Type is not of the form type/subtype (RFC 2045 5.1)")
    params: dict[str, str] = {}
    for key, raw_value in pairs[1:]:
        key = key.strip().lower()
        if key in params:
            raise MalformedMime(f"a Content-Type has two {key} parameters")
        params[key] = collapse_rfc2231_value(raw_value)
    return content_type, tuple(params.items())


class Split(NamedTuple):
    parts: list[bytes]
    closed: bool  # the close delimiter was seen
    epilogue: int  # where what follows the close delimiter starts
    adjacent: bool  # a delimiter line right after another (no line between: readers disagree on a part there)


def split_multipart(body: bytes, boundary: bytes) -> Split:
    """Body parts between delimiter lines. The line end before a delimiter belongs to it.

    Only lines that begin with "--boundary" can be delimiters: they are found with find(), not by
    walking every line of the body.
    """
    dash = b"--" + boundary
    parts: list[bytes] = []
    start: int | None = None
    adjacent = False
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
            adjacent = adjacent or at == start
            end = at
            if body[end - 2:end] == b"\r\n":
                end -= 2
            elif body[end - 1:end] == b"\n":
                end -= 1
            parts.append(body[start:max(start, end)])
        if close:
            return Split(parts, True, line_end, adjacent)
        start = line_end
        at = body.find(dash, line_end)
    if start is not None and body[start:].strip():
        parts.append(body[start:])
    return Split(parts, False, len(body), adjacent)


def _delimiter_in(body: bytes, start: int, dash: bytes) -> bool:
    """Whether a line of body[start:] begins with the delimiter (a part after the close, or a second close)."""
    at = body.find(dash, start)
    while at != -1:
        if at == start or body[at - 1:at] == b"\n":
            return True
        at = body.find(dash, at + 1)
    return False
