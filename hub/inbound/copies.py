"""What OCAM's people receive of an inbound message: a copy holding the partner's original (message/rfc822), or
for an embargoed item a notice without its content; signed by the hub, encrypted to the one recipient's key, the
reference, urgency and due time in the protected headers (RFC 9788; AR Art. 11 §7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import quoprimime
from email.header import decode_header, make_header
from email.utils import format_datetime, make_msgid

from crypto import Gpg, MimeError
from crypto.mime import compose, reader as mime

from hub.clock import brussels
from hub.settings import HubSection
from .originals import Original
from .rules import Target


@dataclass(frozen=True)
class About:
    """The facts of an accepted message a copy states (metadata the hub holds in clear)."""

    reference: str
    partner: str
    partner_kind: str
    kind: str
    urgency: str
    urgency_source: str
    classification: str | None
    received_at: datetime
    due_at: datetime | None
    signer: str | None


def protected_fields(about: About) -> list[tuple[str, str]]:
    """The routing facts as header fields of the copy's protected header (RFC 9788)."""
    fields = [("Urgency", about.urgency), ("Message-Kind", about.kind), ("X-Passerelle-Reference", about.reference),
              ("X-Passerelle-Due-At", about.due_at.strftime("%Y-%m-%dT%H:%M:%SZ") if about.due_at else "none"),
              ("X-Passerelle-Partner", about.partner)]
    if about.classification:
        fields.append(("Classification", about.classification))
    return fields


def copy_mail(gpg: Gpg, hub: HubSection, about: About, to: Target, original: Original, *,
              now: datetime) -> tuple[str, bytes]:
    """The Message-ID and bytes of one copy (raises crypto's KeyUnusable when *to*'s key cannot be used)."""
    subject = _subject(original.data)
    due = f"{brussels(about.due_at)}, owed by OCAM" if about.due_at else "none (no clock runs)"
    text = "\n".join([
        f"Reference: {about.reference}",
        f"From: {about.partner} ({about.partner_kind}), signed by key {about.signer or '-'}, verified at reception",
        f"Kind: {about.kind}; urgency {about.urgency} ({about.urgency_source}); classification "
        f"{about.classification or '-'}",
        f"Received: {brussels(about.received_at)}",
        f"Due: {due}",
        f"Why you receive it: {to.basis}",
        "",
        f"The partner's message is attached ({original.how}).",
        "Your mail client checks the partner's signature with the partner's public key." if original.verifiable
        else "Ask the duty officer for the hub's verdict (passerelle messages show).",
        "",
        f"[FR] Copie de {about.reference} reçue de {about.partner}; le message original est joint.",
        f"[NL] Kopie van {about.reference} ontvangen van {about.partner}; het originele bericht is bijgevoegd.",
        "",
    ])
    attachment = (f'Content-Type: message/rfc822\r\nContent-Disposition: attachment; '
                  f'filename="{about.reference}-original.eml"\r\nContent-Description: the partner\'s original\r\n'
                  + ("" if original.data.isascii() else "Content-Transfer-Encoding: 8bit\r\n") + "\r\n").encode() \
        + original.data
    title = f"[{about.urgency}] {about.reference} {about.kind} from {about.partner}"
    title += f": {subject}" if subject else ""
    return _mail(gpg, hub, about.reference, "copy", to, title, protected_fields(about), text, attachment, now)


def notice_mail(gpg: Gpg, hub: HubSection, about: About, to: Target, *, embargo: str, version: int, holders: int,
                now: datetime) -> tuple[str, bytes]:
    """A notice of a sealed embargoed item to one of its holders: no content, only how to open it."""
    text = "\n".join([
        f"Reference: {about.reference}",
        f"Embargo: {embargo} (law Art. {11 if embargo == 'judicial' else 12}); from {about.partner} "
        f"({about.partner_kind}); received {brussels(about.received_at)}",
        f"Sealed to you and the other holders of the {embargo} list, version {version} ({holders} holder(s)); "
        "the hub cannot open it and sends no copy of it.",
        f"Open it with your own key: passerelle embargo open {about.reference} --key-home YOUR-GNUPG-HOME "
        "--out FILE (the opening is recorded).",
        "No deadline runs for embargoed information (AR Art. 11 §5).",
        "",
        f"[FR] {about.reference} : information sous embargo scellée à votre clé (passerelle embargo open).",
        f"[NL] {about.reference}: informatie onder embargo, verzegeld met uw sleutel (passerelle embargo open).",
        "",
    ])
    fields = [("Embargo", embargo), ("X-Passerelle-Reference", about.reference),
              ("X-Passerelle-Partner", about.partner)]
    return _mail(gpg, hub, about.reference, "notice", to, f"{about.reference}: {embargo} embargo sealed to you",
                 fields, text, None, now)


def _mail(gpg: Gpg, hub: HubSection, reference: str, what: str, to: Target, subject: str,
          fields: list[tuple[str, str]], text: str, attachment: bytes | None, now: datetime) -> tuple[str, bytes]:
    message_id = make_msgid(idstring=f"{reference}.{what}", domain=hub.domain)
    headers = [("From", f"OCAM Passerelle <{hub.address}>"), ("To", to.email), ("Date", format_datetime(now)),
               ("Message-ID", message_id)]
    body = ("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            + quoprimime.body_encode(text.encode("utf-8").decode("latin-1"), 76, "\r\n") + "\r\n").encode("ascii")
    mark = compose.boundary(body, attachment or b"")
    protected = compose.header_block(headers + [("Subject", subject)] + fields)
    entity = b"".join([f'Content-Type: multipart/mixed; boundary="{mark}"; protected-headers="v1"\r\n'.encode(),
                       protected, b"\r\n", f"--{mark}\r\n".encode(), body,
                       *([f"--{mark}\r\n".encode(), attachment, b"\r\n"] if attachment is not None else []),
                       f"--{mark}--\r\n".encode()])
    # The visible header says nothing but the reference, in the Subject: the rest is in the protected header
    # (RFC 9788), X-Passerelle-Reference too (outside, it marks the hub's receipts and requests).
    outer = headers + [("Subject", f"Passerelle {reference}"), ("Auto-Submitted", "auto-generated")]
    return message_id, compose.encrypt_entity(gpg, entity, [to.fingerprint], hub.key_fingerprint, outer)


def _subject(message: bytes) -> str:
    """The original's Subject, decoded, on one line, at most 120 characters ("" when it has none)."""
    try:  # the message was read whole at its admission: its header is read the same way here
        value = next((v for k, v in mime.read_fields(mime.split_head(message)[0]) if k.lower() == "subject"), None)
    except MimeError:
        value = None
    if not value:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except (LookupError, UnicodeError, ValueError):
        text = str(value)
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())[:120]
