"""The hub's notices about keys: a key about to expire (to its owner), and a new hub key (to everyone the hub writes
to), each signed by the hub and encrypted to the one recipient's key. FR/NL/EN, as the receipts."""

from __future__ import annotations

import base64
from datetime import datetime
from email import quoprimime
from email.utils import format_datetime, make_msgid

from crypto import Gpg
from crypto.mime import compose

from hub.clock import brussels

# What an expired key stops, by its owner (the refusal or the hold that follows).
CONSEQUENCE = {
    "partner": ("la passerelle refusera vos messages signés et ne pourra plus vous chiffrer ses messages",
                "weigert de hub uw ondertekende berichten en kan hij u niets meer versleuteld sturen",
                "the hub refuses your signed messages and cannot encrypt its messages to you"),
    "member": ("les copies des messages qui vous sont destinés seront retenues",
               "worden de kopieën van de berichten voor u tegengehouden",
               "the copies of the messages routed to you are held"),
    "recipient": ("les évaluations et copies qui vous sont destinées seront retenues",
                  "worden de evaluaties en kopieën voor u tegengehouden",
                  "the evaluations and copies addressed to you are held"),
}


def _text_entity(text: str) -> bytes:
    body = quoprimime.body_encode(text.encode("utf-8").decode("latin-1"), 76, "\r\n")
    return ("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            + body + "\r\n").encode("ascii")


def _headers(hub_address: str, to: str, now: datetime, message_id: str, subject: str) -> list[tuple[str, str]]:
    return [("From", f"OCAM Passerelle <{hub_address}>"), ("To", to), ("Date", format_datetime(now)),
            ("Message-ID", message_id), ("Subject", subject), ("Auto-Submitted", "auto-generated")]


def key_expiry(gpg: Gpg, *, hub_address: str, hub_fingerprint: str, domain: str, owner: str, to: str,
               fingerprint: str, expires_at: datetime, now: datetime) -> tuple[str, bytes]:
    """(Message-ID, bytes) of the notice that *fingerprint* expires (crypto's KeyUnusable if it cannot be used)."""
    fr, nl, en = CONSEQUENCE[owner]
    days = max(0, (expires_at - now).days)
    when = brussels(expires_at)
    update = ("OCAM registers it with `passerelle partner update-key`" if owner == "partner"
              else "OCAM's operator registers it")
    text = "\n".join([
        f"[FR] Votre clé OpenPGP {fingerprint}, enregistrée auprès de Passerelle (OCAM), expire le {when} "
        f"(dans {days} jours). Prolongez-la et envoyez sa clé publique à l'OCAM ; sinon, à cette date, {fr}.",
        f"[NL] Uw OpenPGP-sleutel {fingerprint}, geregistreerd bij Passerelle (OCAM), verloopt op {when} "
        f"(over {days} dagen). Verleng ze en stuur de publieke sleutel naar het OCAD; anders {nl}.",
        f"[EN] Your OpenPGP key {fingerprint}, registered with Passerelle (OCAM), expires on {when} "
        f"(in {days} days). Extend it and send its public key to OCAM, otherwise from then on {en}.",
        "",
        "    gpg --quick-set-expire " + fingerprint + " 1y",
        "    gpg --quick-set-expire " + fingerprint + " 1y '*'      (its subkeys)",
        "    gpg --armor --export " + fingerprint + " > my-key.asc",
        "",
        f"Then send my-key.asc to OCAM; {update}.",
        "",
    ])
    message_id = make_msgid(idstring=f"key-expiry.{fingerprint[-16:]}", domain=domain)
    headers = _headers(hub_address, to, now, message_id, f"Passerelle: your OpenPGP key expires on {when[:10]}")
    return message_id, compose.encrypt_entity(gpg, _text_entity(text), [fingerprint], hub_fingerprint, headers)


def new_hub_key(gpg: Gpg, *, hub_address: str, old: str, new: str, new_public: bytes, accepted_until: datetime,
                domain: str, to: str, recipient_key: str, now: datetime) -> tuple[str, bytes]:
    """(Message-ID, bytes) of the announcement of the hub's new key: the text and the new public key, signed by
    the new key (proof that the hub holds it), that whole entity signed by the old key (proof that it is the
    hub's) and encrypted to the recipient. Crypto's KeyUnusable if the recipient's key cannot be used."""
    until = brussels(accepted_until)
    text = "\n".join([
        f"[FR] La clé OpenPGP de la passerelle change. Nouvelle clé : {new} (jointe). Ancienne clé : {old}. "
        f"Dès maintenant la passerelle signe avec la nouvelle clé ; les messages chiffrés pour l'ancienne sont "
        f"acceptés jusqu'au {until}. Gardez l'ancienne clé : elle vérifie les accusés qu'elle a signés.",
        f"[NL] De OpenPGP-sleutel van de hub verandert. Nieuwe sleutel: {new} (bijgevoegd). Oude sleutel: {old}. "
        f"Vanaf nu ondertekent de hub met de nieuwe sleutel; berichten versleuteld voor de oude worden aanvaard "
        f"tot {until}. Bewaar de oude sleutel: hij controleert de ontvangstbewijzen die hij ondertekende.",
        f"[EN] The hub's OpenPGP key changes. New key: {new} (attached). Old key: {old}. From now on the hub signs "
        f"with the new key; mail encrypted to the old one is accepted until {until}, then refused. Keep the old "
        f"key: it verifies the receipts it signed.",
        "",
        "This message is signed by the old key; the part holding the new key is signed by the new key itself.",
        "Compare the new fingerprint with the one OCAM gives you by telephone, then:",
        "",
        "    gpg --import hub-key.asc",
        f"    gpg --quick-lsign-key {new}",
        f"    mutt / neomutt:   crypt-hook {hub_address} 0x{new}",
        "",
    ])
    key_part = ("Content-Type: application/pgp-keys; name=\"hub-key.asc\"\r\n"
                "Content-Disposition: attachment; filename=\"hub-key.asc\"\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n"
                + base64.encodebytes(new_public).decode().replace("\n", "\r\n"))
    mark = compose.boundary(new_public)
    mixed = (f'Content-Type: multipart/mixed; boundary="{mark}"\r\n\r\n'
             f"--{mark}\r\n").encode() + _text_entity(text) + f"--{mark}\r\n{key_part}--{mark}--\r\n".encode()
    signature, micalg = gpg.sign_detached(mixed, new)
    by_new = compose.signed_entity(mixed, signature, micalg)
    message_id = make_msgid(idstring=f"hub-key.{new[-16:]}", domain=domain)
    headers = _headers(hub_address, to, now, message_id, f"Passerelle: the hub's key changes to {new[-16:]}")
    return message_id, compose.encrypt_entity(gpg, by_new, [recipient_key], old, headers)
