"""Acknowledgement receipts: RFC 8098 disposition notifications with Passerelle's fields, in FR/NL/EN."""

from __future__ import annotations

import base64
import secrets
from email import quoprimime
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, make_msgid

from hub.audit.proofs import RECEIPT_FIELD
from hub.clock import brussels

from . import msgid

URGENCY_WORDS = {
    "FLASH": ("FLASH", "FLASH", "FLASH"),
    "URGENT": ("URGENT", "DRINGEND", "URGENT"),
    "ROUTINE": ("ROUTINE", "ROUTINE", "ROUTINE"),
    "NON-URGENT": ("NON URGENT", "NIET DRINGEND", "NON URGENT"),
}
ANSWER_WORDS = {
    "on-time": "dans le délai / binnen de termijn / on time",
    "late": "hors délai / laattijdig / late",
    "partial": "réponse partielle, le délai court toujours / gedeeltelijk, de termijn loopt / partial, the clock runs on",
    "unknown-request": "demande inconnue / onbekende vraag / unknown request",
    "closed-request": "demande déjà clôturée / vraag reeds afgesloten / request already closed",
    "not-owed": "aucune réponse n'était attendue de vous / geen antwoord van u verwacht / no answer was owed by you",
}
SOURCE_WORDS = {
    "protected": ("protégé par la signature", "beschermd door de handtekening", "protected by the signature"),
    "unprotected": ("NON protégé (en-tête extérieur)", "NIET beschermd (buitenste header)", "NOT protected (outer header)"),
    "default": ("par défaut", "standaard", "default"),
}

# What the digest is over: the bytes of DATA as the hub received them, after the dot-unstuffing of RFC 5321
# §4.5.2 (the message as the client composed it, its last line's CRLF included), before anything else.
DIGEST_WORDS = (
    "[FR] Empreinte SHA-256 du message tel que reçu : les octets transmis en DATA, après retrait des points de "
    "transparence (RFC 5321 §4.5.2).",
    "[NL] SHA-256 van het bericht zoals ontvangen: de bytes verzonden in DATA, na verwijdering van de "
    "transparantiepunten (RFC 5321 §4.5.2).",
    "[EN] SHA-256 of the message as received: the bytes sent in DATA, after dot-unstuffing (RFC 5321 §4.5.2).",
)


@dataclass(frozen=True)
class ReceiptFacts:
    """What the receipt states; all of it metadata, none of it content."""

    reference: str
    original_message_id: str
    digest_sha256: str
    received_at: datetime
    kind: str
    kind_source: str
    urgency: str
    urgency_source: str
    due_at: datetime | None
    embargo: str | None
    classification: str | None
    conflicts: tuple[tuple[str, str | None, str | None], ...]  # (field, outer, protected)
    partner_email: str
    hub_address: str
    answers: tuple[str | None, str, int | None] | None = None  # (request reference, status, delay in seconds)
    sealed_to: int | None = None  # embargo: how many holders the content is sealed to
    log_proof: str | None = None  # its intake event in a signed checkpoint of the audit log (C2SP tlog-proof)
    due_basis: str | None = None  # what set the due time: article, urgency and delay (hub/deadlines/windows.py)
    delay: str | None = None      # the delay applied, ASCII: "P3D; rule=AR-11-3" (hub/deadlines/windows.py)
    deviation: str | None = None  # the documented basis of a deviation from the law's delay


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _original(f: ReceiptFacts) -> str | None:
    """The msg-id the receipt quotes: admission accepts only a valid one; anything else (a row from before that
    rule) is not repeated inside the hub's signature."""
    return msgid.single(f.original_message_id)


def human_text(f: ReceiptFacts) -> str:
    original = _original(f) or "-"
    fr_u, nl_u, en_u = URGENCY_WORDS[f.urgency]
    fr_s, nl_s, en_s = SOURCE_WORDS[f.urgency_source]
    due_local = brussels(f.due_at) if f.due_at else None
    received_local = brussels(f.received_at)
    lines = [
        f"Référence / Referentie / Reference: {f.reference}",
        "",
        "[FR] Accusé de réception (AR 28.11.2006, art. 11 §2)",
        f"Votre message {original} a été reçu le {received_local}.",
        f"Urgence appliquée : {fr_u} ({fr_s}).",
        f"Délai de réponse : {due_local}." if due_local else "Aucun délai de réponse ne court pour ce message.",
        "",
        "[NL] Ontvangstbevestiging (KB 28.11.2006, art. 11 §2)",
        f"Uw bericht {original} werd ontvangen op {received_local}.",
        f"Toegepaste dringendheid: {nl_u} ({nl_s}).",
        f"Antwoordtermijn: {due_local}." if due_local else "Voor dit bericht loopt geen antwoordtermijn.",
        "",
        "[EN] Acknowledgement of receipt (Royal Decree 28.11.2006, Art. 11 §2)",
        f"Your message {original} was received at {received_local}.",
        f"Urgency applied: {en_u} ({en_s}).",
        f"Response due: {due_local}." if due_local else "No response deadline runs for this message.",
    ]
    if f.due_basis:
        lines += ["", f"Délai appliqué / Toegepaste termijn / Delay applied: {f.due_basis}"]
    if f.deviation:
        lines += [f"[FR] Dérogation au délai légal, base : {f.deviation}",
                  f"[NL] Afwijking van de wettelijke termijn, grondslag: {f.deviation}",
                  f"[EN] Deviation from the legal delay, basis: {f.deviation}"]
    if f.embargo:
        n = f.sealed_to or 0
        lines += ["", f"Embargo: {f.embargo} (loi/wet/law Art. {11 if f.embargo == 'judicial' else 12}) — "
                      "aucun délai / geen termijn / no deadline (AR Art. 11 §5).",
                  f"[FR] Contenu scellé pour {n} membre(s) habilité(s) désigné(s) ; le hub ne peut pas le lire.",
                  f"[NL] Inhoud verzegeld voor {n} aangewezen gemachtigde(n); de hub kan hem niet lezen.",
                  f"[EN] Content sealed to {n} designated holder(s); the hub cannot read it."]
    for field, outer, protected in f.conflicts:
        lines += ["", f"Attention / Let op / Note: {field}: outer={outer!r} protected={protected!r}; "
                      "la valeur protégée s'applique / de beschermde waarde geldt / the protected value applies."]
    if f.answers is not None:
        request, status, delay = f.answers
        lines += ["", f"Réponse à / Antwoord op / Answers: {request or '?'} — {ANSWER_WORDS.get(status, status)}"
                  + (f" ({delay} s)" if delay else "")]
    lines += ["", *DIGEST_WORDS, f"SHA-256: {f.digest_sha256}"]
    if f.log_proof is not None:
        lines += ["", "Preuve d'inscription au journal / Bewijs van opname in het logboek / Proof of logging: "
                      "X-Passerelle-Log-Proof (c2sp.org/tlog-proof@v1; passerelle audit verify-receipt)"]
    return "\n".join(lines + [""])


def disposition_fields(f: ReceiptFacts, reporting_host: str) -> str:
    original = _original(f)
    fields = [
        f"Reporting-UA: {reporting_host}; Passerelle",
        f"Original-Recipient: rfc822;{f.hub_address}",
        f"Final-Recipient: rfc822;{f.hub_address}",
        *([f"Original-Message-ID: {original}"] if original else []),
        "Disposition: automatic-action/MDN-sent-automatically; processed",
        f"X-Passerelle-Reference: {f.reference}",
        f"X-Passerelle-Digest: sha256:{f.digest_sha256}",
        f"X-Passerelle-Received-At: {_utc(f.received_at)}",
        f"X-Passerelle-Kind: {f.kind}; source={f.kind_source}",
        f"X-Passerelle-Urgency: {f.urgency}; source={f.urgency_source}",
        f"X-Passerelle-Due-At: {_utc(f.due_at) if f.due_at else 'none'}",
        *([f"X-Passerelle-Delay: {f.delay}"] if f.delay else []),
    ]
    if f.embargo:
        fields.append(f"X-Passerelle-Embargo: {f.embargo}; sealed-to={f.sealed_to or 0}; deadline=none")
    if f.classification:
        fields.append(f"X-Passerelle-Classification: {f.classification}")
    for field, outer, protected in f.conflicts:
        fields.append(f"X-Passerelle-Conflict: {field}; outer={outer}; protected={protected}")
    if f.answers is not None:
        request, status, delay = f.answers
        fields.append(f"X-Passerelle-Answers: {request or 'none'}; status={status}"
                      + (f"; delay={delay}s" if delay else ""))
    if f.log_proof is not None:  # base64 of the proof's text, folded (RFC 5322 §2.2.3)
        encoded = base64.b64encode(f.log_proof.encode("utf-8")).decode("ascii")
        fields.append(f"{RECEIPT_FIELD}: " + "\r\n ".join(encoded[i:i + 76] for i in range(0, len(encoded), 76)))
    return "\r\n".join(fields) + "\r\n"


def report_entity(f: ReceiptFacts, reporting_host: str) -> bytes:
    """The multipart/report entity (RFC 8098) that the hub then signs."""
    boundary = "=_report_" + secrets.token_hex(12)
    parts = [
        f'Content-Type: multipart/report; report-type=disposition-notification; boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        _quoted_printable(human_text(f)),
        f"--{boundary}",
        "Content-Type: message/disposition-notification",
        "",
        disposition_fields(f, reporting_host),
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(parts).encode("utf-8")


def _quoted_printable(text: str) -> str:
    """Signed data must be 7-bit (RFC 3156 §3): the UTF-8 text goes quoted-printable."""
    return quoprimime.body_encode(text.encode("utf-8").decode("latin-1"), 76, "\r\n")


def headers(f: ReceiptFacts, now: datetime, domain: str) -> tuple[str, list[tuple[str, str]]]:
    """The receipt's own Message-ID and its top-level headers."""
    message_id = make_msgid(idstring=f.reference, domain=domain)
    original = _original(f)
    return message_id, [
        ("From", f"Passerelle <{f.hub_address}>"),
        ("To", f.partner_email),
        ("Subject", f"Accusé de réception / Ontvangstbevestiging / Receipt {f.reference}"),
        ("Date", format_datetime(now)),
        ("Message-ID", message_id),
        *([("In-Reply-To", original), ("References", original)] if original else []),
        ("Auto-Submitted", "auto-replied"),
        ("X-Passerelle-Reference", f.reference),
    ]
