"""Building outgoing PGP/MIME messages (RFC 3156): multipart/signed and multipart/encrypted."""

from __future__ import annotations

import functools
import secrets
from email import quoprimime
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP

from crypto.mime.crlf import to_crlf
from crypto.errors import MalformedMime
from crypto.openpgp.gpg import Gpg

CRLF = "\r\n"
_SIGNED_PREAMBLE = b"This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n"
_ENCRYPTED_PREAMBLE = b"This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n"


def boundary(*contents: bytes) -> str:
    """A fresh MIME boundary that occurs in none of *contents*."""
    while True:
        b = "=_pg_" + secrets.token_hex(16)
        if not any(b.encode() in c for c in contents):
            return b


_ADDRESS_FIELDS = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender"})


_SHORT = 76  # a field this long or shorter needs no folding
_WORD_START, _WORD_END = "=?utf-8?q?", "?="


@functools.lru_cache(maxsize=4096)
def _q_char(ch: str) -> str:
    """One character as it reads inside a Q encoded word (its UTF-8 bytes, encoded)."""
    return quoprimime.header_encode(ch.encode("utf-8"), "utf-8")[len(_WORD_START):-len(_WORD_END)]


def _encoded_words(text: str, used: int) -> str:
    """Unstructured non-ASCII text as RFC 2047 Q encoded words, each line at most 76 characters; a character
    is never split across two words. (email.header's folder gives the same but tries every split point.)"""
    room = _SHORT - len(_WORD_START) - len(_WORD_END)
    words: list[str] = []
    chunk: list[str] = []
    size, limit = 0, room - used - 1
    for ch in text:
        encoded = _q_char(ch)
        if chunk and size + len(encoded) > limit:
            words.append(_WORD_START + "".join(chunk) + _WORD_END)
            chunk, size, limit = [], 0, room - 1
        chunk.append(encoded)
        size += len(encoded)
    words.append(_WORD_START + "".join(chunk) + _WORD_END)
    return (CRLF + " ").join(words)


def header_block(headers: list[tuple[str, str]]) -> bytes:
    """Fold and RFC 2047-encode the given fields; CR or LF inside a value is refused.

    ASCII values and unstructured text (Subject) take the quick compat32 folder; a non-ASCII
    address field goes through the header registry, which encodes only the display name.
    """
    lines = []
    for name, value in headers:
        if name.lower() in ("mime-version", "content-type", "content-transfer-encoding"):
            raise ValueError(f"{name} is set by the composer")
        if "\r" in value or "\n" in value:
            raise ValueError(f"{name} contains a line break")
        if value.isascii() and len(name) + 2 + len(value) <= _SHORT:
            lines.append(f"{name}: {value}{CRLF}".encode("ascii"))  # what the folder would give, unchanged
        elif not value.isascii() and name.lower() not in _ADDRESS_FIELDS:
            lines.append(f"{name}: {_encoded_words(value, len(name) + 2)}{CRLF}".encode("ascii"))
        elif value.isascii():
            folded = Header(value, header_name=name)
            lines.append(f"{name}: {folded.encode(linesep=CRLF)}{CRLF}".encode("ascii"))
        else:
            msg = EmailMessage(policy=SMTP)
            msg[name] = value
            lines.append(SMTP.fold_binary(name, msg[name]))
    return b"".join(lines)


def sign_entity(gpg: Gpg, entity: bytes, signer: str, headers: list[tuple[str, str]]) -> bytes:
    """A complete RFC 5322 message: the entity, PGP/MIME-signed by signer (CRLF line ends)."""
    body = to_crlf(entity)
    if not body.isascii():
        raise MalformedMime("an entity to sign must be 7-bit: encode it (quoted-printable or base64)")
    signature, micalg = gpg.sign_detached(body, signer)
    return header_block(headers) + b"MIME-Version: 1.0\r\n" + signed_entity(body, signature, micalg)


def signed_entity(body: bytes, signature: bytes, micalg: str) -> bytes:
    """The multipart/signed entity (its Content-Type field, then its parts) of *body* exactly as given and its
    armoured detached *signature*."""
    mark = boundary(body)
    return b"".join([
        f'Content-Type: multipart/signed; micalg={micalg};\r\n'
        f' protocol="application/pgp-signature";\r\n boundary="{mark}"\r\n'.encode(),
        b"\r\n", _SIGNED_PREAMBLE,
        f"--{mark}\r\n".encode(), body,
        f"\r\n--{mark}\r\n".encode(),
        b'Content-Type: application/pgp-signature; name="signature.asc"\r\n'
        b"Content-Description: OpenPGP digital signature\r\n"
        b'Content-Disposition: attachment; filename="signature.asc"\r\n\r\n',
        to_crlf(signature),
        f"\r\n--{mark}--\r\n".encode(),
    ])


def encrypt_entity(gpg: Gpg, entity: bytes, recipients: list[str], signer: str | None,
                   headers: list[tuple[str, str]]) -> bytes:
    """A complete RFC 5322 message: the entity encrypted (and signed inside, if signer) per RFC 3156."""
    ciphertext = to_crlf(gpg.encrypt(to_crlf(entity), recipients, sign_with=signer))
    mark = boundary(ciphertext)
    return b"".join([
        header_block(headers),
        b"MIME-Version: 1.0\r\n",
        f'Content-Type: multipart/encrypted;\r\n protocol="application/pgp-encrypted";\r\n'
        f' boundary="{mark}"\r\n'.encode(),
        b"\r\n", _ENCRYPTED_PREAMBLE,
        f"--{mark}\r\n".encode(),
        b"Content-Type: application/pgp-encrypted\r\n"
        b"Content-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n",
        f"\r\n--{mark}\r\n".encode(),
        b'Content-Type: application/octet-stream; name="encrypted.asc"\r\n'
        b"Content-Description: OpenPGP encrypted message\r\n"
        b'Content-Disposition: inline; filename="encrypted.asc"\r\n\r\n',
        ciphertext,
        f"\r\n--{mark}--\r\n".encode(),
    ])
