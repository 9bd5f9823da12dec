"""Where a message's structure is, found again on whatever bytes a mutation gets (tolerant of what earlier
mutations broke): header sections and their fields, boundaries and delimiter lines, parts, OpenPGP armor."""

from __future__ import annotations

import random
import re

_BLANK = re.compile(rb"\r?\n\r?\n")
_BOUNDARY = re.compile(rb'boundary\s*=\s*"?([^";\r\n]+)"?', re.I)
_ARMOR = re.compile(rb"-----BEGIN PGP [A-Z ]+-----.*?-----END PGP [A-Z ]+-----", re.S)
KINDS = ("header", "field", "line_end", "delimiter", "armor", "body", "any")


def head_end(raw: bytes, start: int = 0) -> int:
    """Where the header section starting at *start* ends (its blank line included), or len(raw)."""
    m = _BLANK.search(raw, start)
    return m.end() if m else len(raw)


def boundaries(raw: bytes) -> list[bytes]:
    return list(dict.fromkeys(b for b in _BOUNDARY.findall(raw) if b.strip()))


def delimiters(raw: bytes) -> list[tuple[int, int, bytes, bool]]:
    """(start, end, boundary, is_close) of each delimiter line; start at its "--", end after its line end."""
    found = []
    for b in boundaries(raw):
        for m in re.finditer(rb"(?m)^--" + re.escape(b) + rb"(--)?[ \t]*\r?\n?", raw):
            found.append((m.start(), m.end(), b, m.group(1) is not None))
    return sorted(found)


def sections(raw: bytes) -> list[tuple[int, int]]:
    """The header sections: the message's, then each part's (after each delimiter that opens a part)."""
    found = [(0, head_end(raw))]
    for start, end, _b, close in delimiters(raw):
        if not close:
            found.append((end, min(head_end(raw, end), end + 65536)))
    return found


def fields(raw: bytes, section: tuple[int, int]) -> list[tuple[int, int]]:
    """(start, end) of each field of a header section, its folded lines and line end included."""
    start, end = section
    spans = []
    for m in re.finditer(rb"(?m)^[^ \t\r\n][^\r\n]*(?:\r?\n[ \t][^\r\n]*)*\r?\n", raw[start:end]):
        if b":" in m.group(0):
            spans.append((start + m.start(), start + m.end()))
    return spans


def armors(raw: bytes) -> list[tuple[int, int]]:
    return [m.span() for m in _ARMOR.finditer(raw)]


def place(rng: random.Random, raw: bytes, kind: str) -> int:
    """An offset of *raw* of that kind (any offset when it has none)."""
    if not raw:
        return 0
    candidates: list[int] = []
    if kind == "header":
        start, end = rng.choice(sections(raw))
        candidates = list(range(start, max(start + 1, end)))
    elif kind == "field":
        for start, end in fields(raw, rng.choice(sections(raw))):
            colon = raw.find(b":", start, end)
            candidates += [start, colon, colon + 1, end - 2, end]
    elif kind == "line_end":
        candidates = [m.start() for m in re.finditer(rb"\r?\n", raw)]
    elif kind == "delimiter":
        for start, end, b, _close in delimiters(raw):
            candidates += [start, start + 2, start + 2 + len(b), end - 2, end]
    elif kind == "armor":
        for start, end in armors(raw):
            block = raw[start:end]
            first = block.find(b"\n") + 1
            crc = block.rfind(b"\n=")
            candidates += [start, start + first, start + first + 1, end, start + rng.randrange(first, len(block))]
            candidates += [start + crc + 1, start + crc + 2] if crc > 0 else []
    elif kind == "body":
        ends = [e for _s, e, _b, close in delimiters(raw) if not close] or [head_end(raw)]
        at = rng.choice(ends)
        candidates = list(range(at, min(len(raw), head_end(raw, at) + 200)))
    candidates = [c for c in candidates if 0 <= c <= len(raw)]
    return rng.choice(candidates) if candidates else rng.randrange(len(raw) + 1)


def parts(raw: bytes) -> list[tuple[int, int, int]]:
    """(header start, body start, body end) of each part between delimiters."""
    delims = delimiters(raw)
    out = []
    for (s, e, b, close), nxt in zip(delims, delims[1:]):
        if not close and nxt[2] == b:
            body_end = nxt[0] - 2 if raw[nxt[0] - 2:nxt[0]] == b"\r\n" else nxt[0]
            out.append((e, min(head_end(raw, e), body_end), body_end))
    return out
