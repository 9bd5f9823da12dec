"""Reminder messages to the party that owes an answer: FR/NL/EN text, signed and encrypted to its key only."""

from __future__ import annotations

from datetime import datetime
from email import quoprimime
from email.utils import format_datetime, make_msgid

from crypto import Gpg
from crypto.mime import compose

from hub.clock import brussels

WORDS = {
    "reminder": ("Rappel", "Herinnering", "Reminder"),
    "due": ("Échéance atteinte", "Termijn bereikt", "Due now"),
    "overdue-reminder": ("Délai dépassé", "Termijn overschreden", "Overdue"),
}


def reminder(gpg: Gpg, *, hub_address: str, hub_fingerprint: str, domain: str, to: str, recipient_key: str,
             request: str, kind: str, due_at: datetime, now: datetime, step: int) -> tuple[str, bytes]:
    """The Message-ID and bytes of one reminder (raises crypto's KeyUnusable when the key cannot be used)."""
    fr, nl, en = WORDS[kind]
    due = brussels(due_at)
    text = "\n".join([
        "Urgency: FLASH" if kind == "overdue-reminder" else "Message-Kind: spontaneous",
        f"Request-Ref: {request}",
        "",
        f"[FR] {fr} : la réponse à la demande {request} est attendue pour le {due} (AR 28.11.2006, art. 11 §3).",
        f"[NL] {nl}: het antwoord op vraag {request} wordt verwacht tegen {due} (KB 28.11.2006, art. 11 §3).",
        f"[EN] {en}: the answer to request {request} is due by {due} (Royal Decree 28.11.2006, Art. 11 §3).",
        "",
        "Répondez avec / Antwoord met / Answer with: Message-Kind: response, Request-Ref: " + request,
        "",
    ])
    body = quoprimime.body_encode(text.encode("utf-8").decode("latin-1"), 76, "\r\n")
    entity = ("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
              + body + "\r\n").encode("ascii")
    message_id = make_msgid(idstring=f"{request}.r{step}", domain=domain)
    headers = [("From", f"OCAM Passerelle <{hub_address}>"), ("To", to), ("Date", format_datetime(now)),
               ("Message-ID", message_id), ("Subject", f"Passerelle {request}: {en}"),
               ("Auto-Submitted", "auto-generated"), ("X-Passerelle-Reference", request)]
    return message_id, compose.encrypt_entity(gpg, entity, [recipient_key], hub_fingerprint, headers)
