"""CRLF line ends (the canonical form of RFC 3156), without a regex pass over text that already has them."""

from __future__ import annotations


def to_crlf(data: bytes) -> bytes:
    """Every LF not preceded by CR becomes CRLF; a lone CR stays. Already canonical data comes back as is."""
    lf = data.count(b"\n")
    if lf == 0 or lf == data.count(b"\r\n"):
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
