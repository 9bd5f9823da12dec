"""CRLF line ends (the canonical form of RFC 3156), without a regex pass over text that already has them."""

from __future__ import annotations


def to_crlf(data: bytes) -> bytes:
    """Every LF not preceded by CR becomes CRLF; a lone CR stays. Already canonical data comes back as is."""
    lf = data.count(b"\n")
    if lf == 0 or lf == data.count(b"\r\n"):
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def text_signed(data: bytes) -> bytes:
    """The text a text-mode (0x01) signature covers, as gpg 2.2 hashes it: each line's trailing CRs dropped
    and its LF made CRLF; trailing CRs dropped from a last line without LF (measured with gpg 2.2.40:
    "a\\r\\r\\n", "a\\n" and "a\\r\\n" verify alike, "a \\r\\n" does not)."""
    lines = data.split(b"\n")
    return b"".join(line.rstrip(b"\r") + b"\r\n" for line in lines[:-1]) + lines[-1].rstrip(b"\r")
