"""The fuzz harness's mutation engine: structure-aware changes to a message's bytes, each case's plan drawn
from (seed, case number) so that it can be replayed.

A mutation finds the message's structure again on the bytes it is given (header sections and their fields,
boundaries and delimiter lines, line ends, OpenPGP armor), tolerant of what earlier mutations broke, and changes
it where readers disagree: bytes flipped, inserted or deleted at those places, fields duplicated, reordered,
refolded or dropped, boundary tricks, transfer encodings, truncation, splicing of two messages, line ends,
From and Message-ID variants, armor re-made, wrappers, oversized fields and parts. Some keep a message valid
(its signature still good): the hub must accept those, and an independent gpg must agree with every 250."""

from __future__ import annotations

import base64
import quopri
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from .places import KINDS, armors, boundaries, delimiters, fields, head_end, parts, place, sections

_CTE = re.compile(rb"(?im)^content-transfer-encoding:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*\r?\n")
_FROM = re.compile(rb"(?im)^from:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*")
_MSGID = re.compile(rb"(?im)^message-id:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*")
_BYTES = (0x00, 0x0D, 0x0A, 0x20, 0x09, 0x2D, 0x3A, 0x3B, 0x22, 0x3D, 0x2E, 0x80, 0xE9, 0xFF)
_TOKENS = (b"\r", b"\n", b"\r\n", b" ", b"\t", b"\x00", b"\r\n ", b"\r\n\r\n", b"--", b"=", b"=\r\n", b";", b'"',
           b"\xe9", b"\xc3\xa9", b".", b"\r\n.\r\n", b"X-Injected: 1\r\n", b"=?utf-8?q?=0D=0A?=", b"\\", b"<", b">")
MAX_GROWTH = 3 * 2**20  # no mutation makes a message more than this much larger


@dataclass(frozen=True)
class Context:
    """What a mutation may draw on beside the message: *other()* a second message (for splices), *addresses* the
    partners' From addresses (one may be another partner's)."""

    other: Callable[[], bytes]
    addresses: tuple[str, ...]


Operator = Callable[[random.Random, bytes, Context], tuple[bytes, str]]


# -- the operators ------------------------------------------------------------------------------------------

def flip(rng, raw, ctx):
    kind = rng.choice(KINDS)
    at = min(place(rng, raw, kind), len(raw) - 1)
    new = rng.choice(_BYTES) if rng.random() < 0.5 else raw[at] ^ (1 << rng.randrange(8))
    return raw[:at] + bytes([new]) + raw[at + 1:], f"flip {kind}@{at} {raw[at]:02x}>{new:02x}"


def insert(rng, raw, ctx):
    kind, token = rng.choice(KINDS), rng.choice(_TOKENS)
    at = place(rng, raw, kind)
    return raw[:at] + token + raw[at:], f"insert {token!r} {kind}@{at}"


def delete(rng, raw, ctx):
    kind = rng.choice(KINDS)
    at = place(rng, raw, kind)
    if rng.random() < 0.3:  # the whole line
        start, end = raw.rfind(b"\n", 0, at) + 1, raw.find(b"\n", at)
        end = len(raw) if end < 0 else end + 1
        return raw[:start] + raw[end:], f"delete line {kind}@{start}"
    n = rng.choice((1, 1, 1, 2, 3, 8, 32))
    return raw[:at] + raw[at + n:], f"delete {n} {kind}@{at}"


def _a_field(rng, raw) -> tuple[list[tuple[int, int]], tuple[int, int]] | None:
    spans = fields(raw, rng.choice(sections(raw)))
    return (spans, rng.choice(spans)) if spans else None


def duplicate_field(rng, raw, ctx):
    found = _a_field(rng, raw)
    if not found:
        return raw, "duplicate: no field"
    spans, (start, end) = found
    copy = raw[start:end]
    if copy.lower().startswith(b"from:") and rng.random() < 0.5:
        copy = b"From: " + rng.choice(ctx.addresses).encode() + b"\r\n"
    at = rng.choice([s for s, _e in spans] + [spans[-1][1]])
    return raw[:at] + copy + raw[at:], f"duplicate {copy.split(b':')[0]!r}@{at}"


def reorder_fields(rng, raw, ctx):
    section = rng.choice(sections(raw))
    spans = fields(raw, section)
    if len(spans) < 2:
        return raw, "reorder: fewer than two fields"
    chunks = [raw[s:e] for s, e in spans]
    way = rng.choice(("swap", "reverse", "shuffle"))
    if way == "swap":
        i, j = rng.sample(range(len(chunks)), 2)
        chunks[i], chunks[j] = chunks[j], chunks[i]
    elif way == "reverse":
        chunks.reverse()
    else:
        rng.shuffle(chunks)
    return raw[:spans[0][0]] + b"".join(chunks) + raw[spans[-1][1]:], f"reorder {way} section@{section[0]}"


def drop_field(rng, raw, ctx):
    found = _a_field(rng, raw)
    if not found:
        return raw, "drop: no field"
    _spans, (start, end) = found
    return raw[:start] + raw[end:], f"drop {raw[start:end].split(b':')[0]!r}"


def refold_field(rng, raw, ctx):
    found = _a_field(rng, raw)
    if not found:
        return raw, "refold: no field"
    _spans, (start, end) = found
    text = raw[start:end]
    name, _, value = text.partition(b":")
    way = rng.choice(("fold", "unfold", "case", "space-before-colon", "trailing-space", "folded-first-line",
                      "encoded-word"))
    if way == "fold":
        spaces = [m.start() for m in re.finditer(rb"[ \t]", value)] or [0]
        at = rng.choice(spaces)
        value = value[:at] + b"\r\n " + value[at:].lstrip(b" \t")
    elif way == "unfold":
        value = re.sub(rb"\r?\n(?=[ \t])", b"", value[:-2]) + value[-2:]
    elif way == "case":
        name = name.swapcase()
    elif way == "space-before-colon":
        name += b" "
    elif way == "trailing-space":
        value = value.rstrip(b"\r\n") + b" \t\r\n"
    elif way == "folded-first-line":
        name = b" " + name
    else:
        word = base64.b64encode(value.strip()).decode("ascii")
        value = f" =?utf-8?b?{word}?=\r\n".encode()
    return raw[:start] + name + b":" + value + raw[end:], f"refold {way} {name.strip()!r}"


def boundary_trick(rng, raw, ctx):
    found = boundaries(raw)
    if not found:
        return raw, "boundary: none"
    b = rng.choice(found)
    delims = [d for d in delimiters(raw) if d[2] == b]
    way = rng.choice(("param", "second-param", "fake-delimiter", "padding", "drop-close", "epilogue-part",
                      "early-close", "swap", "lookalike", "quote"))
    if way == "param":
        new = rng.choice((b + b"x", b[:-1], b.upper(), b + b" ", b"x" + b))
        return raw.replace(b"boundary=\"" + b + b"\"", b"boundary=\"" + new + b"\"", 1).replace(
            b"boundary=" + b, b"boundary=" + new, 1), f"boundary param {b[-6:]!r}->{new[-6:]!r}"
    if way == "second-param":
        return raw.replace(b + b'"', b + b'"; boundary="' + b + b'x"', 1), "boundary second param"
    if way == "quote":
        swapped = raw.replace(b'boundary="' + b + b'"', b"boundary=" + b, 1)
        if swapped == raw:
            swapped = raw.replace(b"boundary=" + b, b'boundary="' + b + b'"', 1)
        return swapped, "boundary quoting toggled"
    if not delims:
        return raw, "boundary: no delimiter"
    start, end, _b, _close = rng.choice(delims)
    if way == "fake-delimiter":
        lines = [m.end() for m in re.finditer(rb"\n", raw)]
        at = rng.choice(lines) if lines else 0
        return raw[:at] + b"--" + b + rng.choice((b"\r\n", b"--\r\n", b"\r\n\r\n")) + raw[at:], f"fake delimiter@{at}"
    if way == "padding":
        line_end = raw.rfind(b"\r\n", start, end) if raw.rfind(b"\r\n", start, end) > 0 else end
        pad = rng.choice((b" ", b"\t ", b" x", b"  \t"))
        return raw[:line_end] + pad + raw[line_end:], f"delimiter padding {pad!r}@{start}"
    closes = [d for d in delims if d[3]]
    if way == "drop-close" and closes:
        s, e, _b, _c = closes[-1]
        return raw[:s] + raw[e:], "close delimiter dropped"
    if way == "epilogue-part" and closes:
        s, e, _b, _c = closes[-1]
        extra = b"--" + b + b"\r\nContent-Type: text/plain\r\n\r\nunsigned text\r\n--" + b + b"--\r\n"
        return raw[:e] + extra + raw[e:], "a part after the close"
    if way == "early-close":
        return raw[:start] + b"--" + b + b"--\r\n" + raw[end:], f"early close@{start}"
    if way == "swap" and len(found) > 1:
        other = rng.choice([x for x in found if x != b])
        return raw[:start] + raw[start:end].replace(b, other, 1) + raw[end:], "delimiter of the other boundary"
    at = start
    return raw[:at] + b"--" + b + b"-lookalike\r\n" + raw[at:], f"lookalike delimiter@{at}"


def transfer_encoding(rng, raw, ctx):
    found = parts(raw)
    way = rng.choice(("set", "set", "encode"))
    if way == "encode" and found:
        h, b, e = rng.choice(found)
        cte = rng.choice((b"base64", b"quoted-printable"))
        body = raw[b:e]
        encoded = (base64.encodebytes(body) if cte == b"base64" else quopri.encodestring(body)).replace(b"\n", b"\r\n")
        head = _CTE.sub(b"", raw[h:b - 2]) if b - 2 > h else b""
        return raw[:h] + head + b"Content-Transfer-Encoding: " + cte + b"\r\n\r\n" + encoded + raw[e:], \
            f"part@{h} encoded {cte.decode()}"
    sections_ = sections(raw)
    start, end = rng.choice(sections_)
    value = rng.choice((b"7bit", b"8bit", b"binary", b"base64", b"quoted-printable", b"x-uuencode", b"BASE64",
                        b" base64 ", b"7bit; x=1", b""))
    head = _CTE.sub(b"", raw[start:end], count=1)
    line = b"Content-Transfer-Encoding: " + value + b"\r\n"
    at = max(0, len(head) - 2) if head.endswith(b"\r\n\r\n") else len(head)
    return raw[:start] + head[:at] + line + head[at:] + raw[end:], f"CTE {value.decode()!r} section@{start}"


def truncate(rng, raw, ctx):
    kind = rng.choice(("delimiter", "armor", "header", "any", "line_end"))
    at = place(rng, raw, kind)
    tail = rng.choice((b"", b"\r\n"))
    return raw[:at] + tail, f"truncate {kind}@{at}"


def splice(rng, raw, ctx):
    other = ctx.other()
    way = rng.choice(("headers-of-one-body-of-other", "body-of-one-headers-of-other", "signed-part-swapped",
                      "signature-swapped", "concatenated", "other-as-extra-part"))
    a_end, b_end = head_end(raw), head_end(other)
    if way == "headers-of-one-body-of-other":
        return raw[:a_end] + other[b_end:], way
    if way == "body-of-one-headers-of-other":
        return other[:b_end] + raw[a_end:], way
    if way == "concatenated":
        return raw + other, way
    mine, theirs = armors(raw), armors(other)
    if way == "signature-swapped" and mine and theirs:
        (s, e), (os_, oe) = mine[-1], theirs[-1]
        return raw[:s] + other[os_:oe] + raw[e:], way
    a_parts, b_parts = parts(raw), parts(other)
    if way == "signed-part-swapped" and a_parts and b_parts:
        h, _body, e = a_parts[0]
        oh, _other_body, oe = b_parts[0]
        return raw[:h] + other[oh:oe] + raw[e:], way
    closes = [d for d in delimiters(raw) if d[3]]
    if closes:
        s, _e, b, _c = closes[-1]
        return raw[:s] + b"--" + b + b"\r\n" + other + b"\r\n" + raw[s:], "other-as-extra-part"
    return raw + other, "concatenated"


def line_ends(rng, raw, ctx):
    region = rng.choice(("all", "header", "first-part", "last-part"))
    start, end = 0, len(raw)
    found = parts(raw)
    if region == "header":
        end = head_end(raw)
    elif region in ("first-part", "last-part") and found:
        start, _b, end = found[0] if region == "first-part" else found[-1]
    way = rng.choice(("lf", "cr-before-crlf", "trailing-space", "crcrlf-once"))
    chunk = raw[start:end]
    if way == "lf":
        chunk = chunk.replace(b"\r\n", b"\n")
    elif way == "cr-before-crlf":
        chunk = chunk.replace(b"\r\n", b"\r\r\n")
    elif way == "trailing-space":
        chunk = chunk.replace(b"\r\n", b" \r\n")
    else:
        ends = [m.start() for m in re.finditer(rb"\r\n", chunk)]
        if ends:
            at = rng.choice(ends)
            chunk = chunk[:at] + b"\r" + chunk[at:]
    return raw[:start] + chunk + raw[end:], f"line ends {way} in {region}"


def from_field(rng, raw, ctx):
    found = list(_FROM.finditer(raw))
    if not found:
        return raw, "from: none"
    m = rng.choice(found)
    current = re.search(rb"[\w.+-]+@[\w.-]+", m.group(0))
    mine = current.group(0).decode() if current else "x@example.org"
    other = rng.choice(ctx.addresses)
    value = rng.choice((
        other, f"Name <{mine}>, {other}", f'"{mine}" <{other}>', f"=?utf-8?q?{other.replace('@', '=40')}?= <{mine}>",
        f"{mine} ({other})", f"<{mine}>", "undisclosed-recipients:;", mine.upper(), f"{mine}, {mine}",
        f"Group: {mine};", f"<{mine}> <{other}>", f"{mine}\r\n (folded comment)", f'"a\\"b" <{mine}>'))
    return raw[:m.start()] + b"From: " + value.encode() + raw[m.end():], f"From {value!r}"


def message_id(rng, raw, ctx):
    found = list(_MSGID.finditer(raw))
    n = rng.randrange(10**9)
    value = rng.choice((f"<fz{n}@partner.test>", f"<fz{n}@partner.test> (comment)", f"<a{n}@x> <b{n}@y>", "",
                        f"fz{n}@partner.test", "<" + "m" * rng.choice((240, 300, 5000)) + "@x>", f"<fz{n}@>",
                        f"<fz{n}@partner.test>\r\n (folded)"))
    new = b"Message-ID: " + value.encode()
    if not found:
        return new + b"\r\n" + raw, f"Message-ID added {value[:30]!r}"
    m = rng.choice(found)
    return raw[:m.start()] + new + raw[m.end():], f"Message-ID {value[:30]!r}"


def armor(rng, raw, ctx):
    found = armors(raw)
    if not found:
        return raw, "armor: none"
    start, end = rng.choice(found)
    block = raw[start:end]
    nl = b"\r\n" if b"\r\n" in block else b"\n"
    lines = block.split(nl)
    way = rng.choice(("rewrap", "no-crc", "bad-crc", "armor-header", "no-blank", "label", "trailing-space",
                      "twice", "flip-base64"))
    try:
        blank = lines.index(b"")
    except ValueError:
        blank = 1
    crc = next((i for i, line in enumerate(lines) if line.startswith(b"=") and len(line) == 5), len(lines) - 1)
    if way == "rewrap":
        data = b"".join(lines[blank + 1:crc])
        width = rng.choice((40, 64, 76, 1000))
        wrapped = [data[i:i + width] for i in range(0, len(data), width)]
        lines = lines[:blank + 1] + wrapped + lines[crc:]
    elif way == "no-crc" and crc < len(lines) - 1:
        del lines[crc]
    elif way == "bad-crc" and crc < len(lines) - 1:
        lines[crc] = b"=AAAA"
    elif way == "armor-header":
        lines.insert(1, rng.choice((b"Comment: fuzz", b"Version: 9", b"Hash: SHA256", b"Charset: utf-8",
                                    b"Comment: " + b"c" * 5000)))
    elif way == "no-blank" and blank < len(lines):
        del lines[blank]
    elif way == "label":
        lines[0] = rng.choice((b"-----BEGIN PGP MESSAGE-----", b"-----BEGIN PGP SIGNATURE-----",
                               b"-----BEGIN PGP SIGNED MESSAGE-----"))
    elif way == "trailing-space":
        lines = [line + b" " for line in lines]
    elif way == "twice":
        return raw[:end] + nl + block + raw[end:], "armor block twice"
    else:
        i = rng.randrange(blank + 1, max(blank + 2, crc))
        if i < len(lines) and lines[i]:
            j = rng.randrange(len(lines[i]))
            lines[i] = lines[i][:j] + rng.choice(b"AZaz09+/").to_bytes(1, "big") + lines[i][j + 1:]
    return raw[:start] + nl.join(lines) + raw[end:], f"armor {way}"


def wrap(rng, raw, ctx):
    """The message's body put inside another multipart: alone (a wrapper readers may look through), beside an
    unsigned part, or nested deeper than the limit."""
    end = head_end(raw)
    head, body = raw[:end], raw[end:]
    ctype = re.search(rb"(?im)^content-type:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*\r?\n", head)
    if ctype is None:
        return raw, "wrap: no Content-Type"
    inner = ctype.group(0)
    outer_head = head[:ctype.start()] + head[ctype.end():]
    way = rng.choice(("alone", "beside-text", "deep"))
    if way == "deep":
        levels = rng.choice((3, 7, 9, 12))
        entity = inner + b"\r\n" + body
        for level in range(levels):
            w = b"w%d" % level
            entity = (b'Content-Type: multipart/mixed; boundary="' + w + b'"\r\n\r\n--' + w + b"\r\n" + entity
                      + b"\r\n--" + w + b"--\r\n")
        return outer_head.rstrip(b"\r\n") + b"\r\n" + entity, f"wrapped {levels} deep"
    w = b"wrap" + str(rng.randrange(10**6)).encode()
    text = b"\r\n--" + w + b"\r\nContent-Type: text/plain\r\n\r\nunsigned footer\r\n" if way == "beside-text" else b""
    entity = (b'Content-Type: multipart/mixed; boundary="' + w + b'"\r\n\r\n--' + w + b"\r\n" + inner + b"\r\n"
              + body + text + b"\r\n--" + w + b"--\r\n")
    return outer_head.rstrip(b"\r\n") + b"\r\n" + entity, f"wrapped {way}"


def oversize(rng, raw, ctx):
    end = head_end(raw)
    cut = max(0, end - 2)
    way = rng.choice(("long-field", "many-fields", "long-boundary", "long-line", "many-parts", "big-body",
                      "long-armor-line"))
    if way == "long-field":
        n = rng.choice((998, 4100, 70_000, 300_000))
        folded = rng.random() < 0.5
        value = (b"x" * 70 + b"\r\n ") * (n // 73) if folded else b"x" * n
        return raw[:cut] + b"X-Long: " + value + b"\r\n" + raw[cut:], f"a {n}-byte field (folded {folded})"
    if way == "many-fields":
        n = rng.choice((990, 1001, 20_000))
        return raw[:cut] + b"".join(b"X-F%d: v\r\n" % i for i in range(n)) + raw[cut:], f"{n} more fields"
    if way == "long-boundary":
        found = boundaries(raw)
        if not found:
            return raw, "long boundary: none"
        b = rng.choice(found)
        return raw.replace(b, b + b"L" * rng.choice((10, 60, 300))), "a longer boundary"
    if way == "long-line":
        n = rng.choice((999, 1001, 20_000))
        at = place(rng, raw, "body")
        return raw[:at] + b"y" * n + b"\r\n" + raw[at:], f"a {n}-byte line"
    if way == "many-parts":
        n = rng.choice((10, 64, 70, 500))
        many = b"".join(b"--P\r\nContent-Type: text/plain\r\n\r\np\r\n" for _ in range(n))
        closes = [d for d in delimiters(raw) if d[3]]
        at = closes[-1][0] if closes else len(raw)
        return raw[:at] + b'Content-Type: multipart/mixed; boundary="P"\r\n\r\n' + many + b"--P--\r\n" + raw[at:], \
            f"{n} parts"
    if way == "big-body":
        n = rng.choice((2**16, 2**20, 2**21))
        at = place(rng, raw, "body")
        return raw[:at] + (b"z" * 76 + b"\r\n") * (n // 78) + raw[at:], f"{n} bytes more body"
    found = armors(raw)
    if not found:
        return raw, "long armor line: none"
    s, _e = rng.choice(found)
    at = raw.find(b"\n", s) + 1
    return raw[:at] + b"Comment: " + b"c" * rng.choice((80, 5000, 100_000)) + b"\r\n" + raw[at:], "a long armor header"


def _swap_outer(rng: random.Random, raw: bytes) -> tuple[bytes, str]:
    """Two of the message's own fields (not its MIME ones) swapped."""
    end = head_end(raw)
    spans = [s for s in fields(raw, (0, end)) if not raw[s[0]:s[1]].lower().startswith((b"content-", b"mime-"))]
    if len(spans) < 2:
        return raw, "too few outer fields"
    (a0, a1), (b0, b1) = sorted(rng.sample(spans, 2))
    return raw[:a0] + raw[b0:b1] + raw[a1:b0] + raw[a0:a1] + raw[b1:], "outer fields swapped"


def _rewrap_armor(raw: bytes) -> tuple[bytes, str]:
    """The last armor block's base64 at 64 characters a line (gpg writes 64, other clients 76)."""
    found = armors(raw)
    if not found:
        return raw, "no armor"
    s, e = found[-1]
    block = raw[s:e].replace(b"\r\n", b"\n").split(b"\n")
    blank = block.index(b"") if b"" in block else 1
    data = b"".join(block[blank + 1:-2])
    lines = block[:blank + 1] + [data[i:i + 64] for i in range(0, len(data), 64)] + block[-2:]
    return raw[:s] + b"\r\n".join(lines) + raw[e:], "armor rewrapped at 64"


def benign(rng, raw, ctx):
    """A change readers should agree leaves the message as it was signed: the hub must still accept it."""
    end = head_end(raw)
    cut = max(0, end - 2)
    way = rng.choice(("x-field", "subject", "reorder-outer", "armor-rewrap", "preamble", "padding"))
    if way == "x-field":
        return raw[:cut] + b"X-Fuzz: " + str(rng.randrange(10**6)).encode() + b"\r\n" + raw[cut:], "an X- field"
    if way == "subject":
        new, count = re.subn(rb"(?im)^subject:[^\r\n]*", b"Subject: changed outside", raw[:end], count=1)
        return (new + raw[end:], "outer Subject changed") if count else (raw, "no Subject")
    if way == "reorder-outer":
        return _swap_outer(rng, raw)
    if way == "armor-rewrap":
        return _rewrap_armor(raw)
    delims = [d for d in delimiters(raw) if not d[3]]
    if not delims:
        return raw, "no delimiter"
    if way == "preamble":
        s = delims[0][0]
        return raw[:s] + b"A preamble readers ignore.\r\n" + raw[s:], "preamble text"
    s, e, _b, _c = rng.choice(delims)
    line_end = e - 2 if raw[e - 2:e] == b"\r\n" else e
    return raw[:line_end] + b"  " + raw[line_end:], "transport padding after a delimiter"


OPERATORS: tuple[tuple[str, int, Operator], ...] = (
    ("flip", 8, flip), ("insert", 8, insert), ("delete", 8, delete), ("duplicate", 5, duplicate_field),
    ("reorder", 4, reorder_fields), ("drop", 3, drop_field), ("refold", 4, refold_field),
    ("boundary", 8, boundary_trick), ("cte", 5, transfer_encoding), ("truncate", 4, truncate),
    ("splice", 5, splice), ("line_ends", 4, line_ends), ("from", 5, from_field), ("message_id", 3, message_id),
    ("armor", 6, armor), ("wrap", 3, wrap), ("oversize", 3, oversize), ("benign", 6, benign),
)


def mutate(rng: random.Random, raw: bytes, ctx: Context, count: int) -> tuple[bytes, list[str]]:
    """*count* operators drawn by weight, applied in turn; the steps say what each did."""
    steps = []
    names, weights = [o[0] for o in OPERATORS], [o[1] for o in OPERATORS]
    table = {o[0]: o[2] for o in OPERATORS}
    for name in rng.choices(names, weights, k=count):
        changed, what = table[name](rng, raw, ctx)
        if len(changed) - len(raw) <= MAX_GROWTH:
            raw = changed
        steps.append(f"{name}: {what}")
    return raw, steps


def replayed(rng: random.Random, raw: bytes) -> tuple[bytes, str]:
    """A message already accepted, sent again with a small change: a new Message-ID, and perhaps a CR more
    before one line end of its signed text (a text-mode signature still verifies), its armor re-made or its
    outer fields moved."""
    new, count = _MSGID.subn(f"Message-ID: <replay{rng.randrange(10**9)}@partner.test>".encode(), raw, count=1)
    way = rng.choice(("message-id", "cr-before-crlf", "armor", "reordered"))
    if way == "cr-before-crlf":
        found = parts(new)
        at = new.find(b"\r\n", found[0][1], found[0][2]) if found else -1
        if at > 0:
            new = new[:at] + b"\r" + new[at:]
    elif way == "armor":
        new, _what = _rewrap_armor(new)
    elif way == "reordered":
        new, _what = _swap_outer(rng, new)
    return new, f"replay: new Message-ID ({count}), {way}"
