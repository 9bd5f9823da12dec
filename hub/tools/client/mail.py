"""Messages shaped like mutt/Thunderbird output, signed and encrypted with the gpg command line (the tests' and
the fuzz harness's partners; never crypto/, the code under test)."""

from __future__ import annotations

import base64
import quopri
import secrets
import tempfile
from email.header import Header
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone

from .gpg_cli import Key, gpg

_MICALG = {"SHA256": "pgp-sha256", "SHA512": "pgp-sha512", "SHA384": "pgp-sha384", "SHA224": "pgp-sha224",
           "SHA1": "pgp-sha1"}


def _hdr(value: str) -> str:
    """RFC 2047-encode a header value that is not ASCII (the signed part must stay 7-bit)."""
    return value if value.isascii() else Header(value, "utf-8").encode()


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _boundary() -> str:
    return "------------" + secrets.token_hex(12)


def _text_part(body: str, keyword_lines: dict[str, str] | None, qp: bool,
               extra: list[str] | None = None) -> bytes:
    text = "".join(f"{k}: {v}\n" for k, v in (keyword_lines or {}).items())
    if keyword_lines:
        text += "\n"
    text += body if body.endswith("\n") else body + "\n"
    ct = 'Content-Type: text/plain; charset=utf-8'
    if qp:
        payload = quopri.encodestring(text.encode("utf-8")).decode("ascii")
        cte = "quoted-printable"
    else:
        try:
            payload, cte = text.encode("ascii").decode("ascii"), "7bit"
        except UnicodeEncodeError:
            payload, cte = quopri.encodestring(text.encode("utf-8")).decode("ascii"), "quoted-printable"
    lines = [ct + (";" + ";".join(extra) if extra else "")]
    lines += [f"Content-Transfer-Encoding: {cte}", "", payload]
    return _crlf("\n".join(lines).encode("ascii"))


def plain_entity(subject: str, body: str, protected: dict[str, str] | None, keyword_lines: dict[str, str] | None,
                 attachments: list[tuple[str, bytes]] | None, qp: bool) -> bytes:
    """The MIME entity that gets signed: text/plain, or multipart/mixed with attachments."""
    hp = ['\r\n protected-headers="v1"'] if protected is not None else []
    hp_fields = "".join(f"{k}: {_hdr(v)}\r\n" for k, v in (protected or {}).items()).encode()
    if not attachments:
        part = _text_part(body, keyword_lines, qp, hp)
        head, _, rest = part.partition(b"\r\n\r\n")
        return head + b"\r\n" + hp_fields + b"\r\n" + rest
    b = _boundary()
    out = [f'Content-Type: multipart/mixed; boundary="{b}"'.encode() + ("".join(hp)).replace("\r\n", ";\r\n").encode()
           + b"\r\n" + hp_fields + b"\r\n"]
    out.append(f"--{b}\r\n".encode() + _text_part(body, keyword_lines, qp))
    for name, data in attachments:
        encoded = base64.encodebytes(data).decode("ascii")
        out.append(_crlf((f"\n--{b}\nContent-Type: application/octet-stream; name=\"{name}\"\n"
                          f"Content-Disposition: attachment; filename=\"{name}\"\n"
                          f"Content-Transfer-Encoding: base64\n\n{encoded}").encode()))
    out.append(f"\r\n--{b}--\r\n".encode())
    return b"".join(out)


def _outer_headers(key_email: str | None, to: str, sender: str | None, subject: str,
                   headers: dict[str, str] | None, message_id: str | None, mime_version: bool) -> list[str]:
    lines = [
        f"From: {sender or key_email or 'sender@example.org'}",
        f"To: {to}",
        f"Subject: {_hdr(subject)}",
        f"Message-ID: {message_id or make_msgid(domain='test.example')}",
        f"Date: {format_datetime(datetime.now(timezone.utc))}",
        "User-Agent: passerelle-tests",
    ]
    lines += [f"{k}: {_hdr(v)}" for k, v in (headers or {}).items()]
    if mime_version:
        lines.append("MIME-Version: 1.0")
    return lines


def _finish(lines: list[str], content_type: str, body: bytes, crlf: bool) -> bytes:
    raw = ("\r\n".join(lines + [content_type]) + "\r\n\r\n").encode("utf-8") + body
    return raw if crlf else raw.replace(b"\r\n", b"\n")


def _signed_body(key: Key, entity: bytes, digest: str, options: tuple[str, ...] = ()) -> tuple[str, bytes]:
    signature = gpg(key.home, "--armor", "--detach-sign", "--digest-algo", digest, *options, "--local-user",
                    key.fingerprint, data=entity, faked_time=key.faked_time)
    b = _boundary()
    ct = (f"Content-Type: multipart/signed; micalg={_MICALG[digest.upper()]};\r\n"
          f' protocol="application/pgp-signature";\r\n boundary="{b}"')
    body = b"".join([
        b"This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n",
        f"--{b}\r\n".encode(), entity, f"\r\n--{b}\r\n".encode(),
        b'Content-Type: application/pgp-signature; name="OpenPGP_signature.asc"\r\n'
        b"Content-Description: OpenPGP digital signature\r\n"
        b'Content-Disposition: attachment; filename="OpenPGP_signature.asc"\r\n\r\n',
        _crlf(signature), f"\r\n--{b}--\r\n".encode(),
    ])
    return ct, body


def signed_mail(key: Key, *, to: str = "hub@ocam.test", sender: str | None = None, subject: str = "Test",
                body: str = "Hello", headers: dict[str, str] | None = None,
                protected: dict[str, str] | None = None, keyword_lines: dict[str, str] | None = None,
                attachments: list[tuple[str, bytes]] | None = None, message_id: str | None = None,
                crlf: bool = True, digest: str = "SHA256", qp: bool = False, mime_version: bool = True,
                sign_options: tuple[str, ...] = ()) -> bytes:
    """A PGP/MIME multipart/signed message from key.email (or sender); sign_options go to gpg (e.g. --textmode)."""
    entity = plain_entity(subject, body, protected, keyword_lines, attachments, qp)
    ct, signed = _signed_body(key, entity, digest, sign_options)
    return _finish(_outer_headers(key.email, to, sender, subject, headers, message_id, mime_version),
                   ct, signed, crlf)


def encrypted_mail(key: Key, recipient_public: bytes, *, mode: str = "combined", to: str = "hub@ocam.test",
                   sender: str | None = None, subject: str = "Test", body: str = "Hello",
                   headers: dict[str, str] | None = None, protected: dict[str, str] | None = None,
                   keyword_lines: dict[str, str] | None = None, attachments: list[tuple[str, bytes]] | None = None,
                   message_id: str | None = None, crlf: bool = True, digest: str = "SHA256", qp: bool = False,
                   mime_version: bool = True) -> bytes:
    """PGP/MIME multipart/encrypted to recipient_public. mode "combined": sign+encrypt in one OpenPGP message;
    "encapsulated": a multipart/signed entity, then encrypted (KMail style)."""
    entity = plain_entity(subject, body, protected, keyword_lines, attachments, qp)
    if mode == "encapsulated":
        ct, signed = _signed_body(key, entity, digest)
        entity = ct.encode() + b"\r\n\r\n" + signed
    elif mode != "combined":
        raise ValueError("mode is 'combined' or 'encapsulated'")
    with tempfile.NamedTemporaryFile(prefix="pg-rcpt-", suffix=".asc") as f:
        f.write(recipient_public)
        f.flush()
        args = ["--armor", "--encrypt", "--recipient-file", f.name]
        if mode == "combined":
            args += ["--sign", "--digest-algo", digest, "--local-user", key.fingerprint]
        ciphertext = gpg(key.home, *args, data=entity, faked_time=key.faked_time)
    return ciphertext_mail(ciphertext, sender=sender or key.email, to=to, subject=subject, headers=headers,
                           message_id=message_id, crlf=crlf, mime_version=mime_version)


def ciphertext_mail(ciphertext: bytes, *, sender: str, to: str = "hub@ocam.test", subject: str = "Test",
                    headers: dict[str, str] | None = None, message_id: str | None = None, crlf: bool = True,
                    mime_version: bool = True) -> bytes:
    """PGP/MIME multipart/encrypted around armoured *ciphertext*, whatever it holds."""
    b = _boundary()
    ct = f'Content-Type: multipart/encrypted;\r\n protocol="application/pgp-encrypted";\r\n boundary="{b}"'
    mime = b"".join([
        b"This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n",
        f"--{b}\r\n".encode(),
        b"Content-Type: application/pgp-encrypted\r\nContent-Description: PGP/MIME version identification\r\n"
        b"\r\nVersion: 1\r\n",
        f"\r\n--{b}\r\n".encode(),
        b'Content-Type: application/octet-stream; name="encrypted.asc"\r\n'
        b'Content-Description: OpenPGP encrypted message\r\nContent-Disposition: inline; filename="encrypted.asc"'
        b"\r\n\r\n", _crlf(ciphertext), f"\r\n--{b}--\r\n".encode(),
    ])
    return _finish(_outer_headers(None, to, sender, subject, headers, message_id, mime_version), ct, mime, crlf)


def unsigned_mail(*, sender: str = "sender@example.org", to: str = "hub@ocam.test", subject: str = "Test",
                  body: str = "Hello", headers: dict[str, str] | None = None,
                  keyword_lines: dict[str, str] | None = None, message_id: str | None = None,
                  crlf: bool = True, qp: bool = False, mime_version: bool = True) -> bytes:
    """A plain text/plain message, not signed."""
    part = _text_part(body, keyword_lines, qp)
    head, _, rest = part.partition(b"\r\n\r\n")
    lines = _outer_headers(None, to, sender, subject, headers, message_id, mime_version)
    return _finish(lines, head.decode("ascii"), rest, crlf)


def inline_signed_mail(key: Key, *, to: str = "hub@ocam.test", sender: str | None = None,
                       subject: str = "Test", body: str = "Hello", headers: dict[str, str] | None = None,
                       message_id: str | None = None, crlf: bool = True) -> bytes:
    """A text/plain message whose body is a cleartext (inline) PGP signature."""
    signed = gpg(key.home, "--clearsign", "--local-user", key.fingerprint,
                 data=body.encode("utf-8"), faked_time=key.faked_time)
    lines = _outer_headers(key.email, to, sender, subject, headers, message_id, True)
    return _finish(lines, "Content-Type: text/plain; charset=utf-8", _crlf(signed), crlf)


def signed_entity_mail(key: Key, entity: bytes, *, to: str = "hub@ocam.test", subject: str = "Test",
                       headers: dict[str, str] | None = None, message_id: str | None = None) -> bytes:
    """Any MIME entity (e.g. an RFC 8098 report) PGP/MIME-signed by *key*, as a client's MDN would be."""
    content_type, body = _signed_body(key, _crlf(entity), "SHA256")
    return _finish(_outer_headers(key.email, to, None, subject, headers, message_id, True), content_type, body, True)
