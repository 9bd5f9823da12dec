"""Building blocks of the hub's end-to-end tests: an initialised home with partners, and the receipt reader."""

from __future__ import annotations

import email
import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.utils import parseaddr
from pathlib import Path

from click.testing import CliRunner

from crypto import Gpg
from crypto.mime import pgpmime
from hub import home as home_mod
from hub.acts.signed import MemberHome
from hub.registry import members, partners
from hub.clock import SystemClock
from hub.settings import Settings, load
from store import Database
from tests.support import mail, ocam, stores
from tests.support.keys import TestKey, made_for, make_key
from tests.support.keys import gpg as run_gpg

DOMAIN = "ocam.test"
HUB = f"hub@{DOMAIN}"


@dataclass
class HubHome:
    """A hub home made as `passerelle init --director` makes one: its director is the session's (tests.support.ocam),
    under whose signature the tests register partners and members."""

    settings: Settings
    fingerprint: str
    gpg: Gpg

    @property
    def director(self) -> ocam.Person:
        return ocam.director()

    def signer(self, who: ocam.Person | TestKey | None = None) -> MemberHome:
        """The member's own GnuPG home (the director's by default), as `--signer-home` names it."""
        home = (who or self.director).home
        return MemberHome.of(home, self.settings, self.gpg)

    def register(self, key: TestKey, name: str, kind: str) -> None:
        """A partner registered under the director's signature (as `partner add --signer-home` does)."""
        db = Database(self.settings.database_url)
        with db.unit_of_work() as uow:
            partners.add(uow, self.gpg, SystemClock(), self.signer(), name=name, kind=kind, email=key.email,
                         key_data=key.public)
            uow.commit()
        db.dispose()

    def member(self, who: ocam.Person, *, clearance: str = "TOP-SECRET") -> ocam.Person:
        """One of the session's members registered under the director's signature (as `member add` does)."""
        db = Database(self.settings.database_url)
        with db.unit_of_work() as uow:
            members.add(uow, self.gpg, SystemClock(), self.signer(), name=who.name, role=who.role, email=who.email,
                        key_data=who.key.public, clearance=clearance)
            uow.commit()
        db.dispose()
        return who

    def db(self) -> Database:
        return Database(self.settings.database_url)


def use_amqp(home: Path, url: str) -> None:
    """Point a home at RabbitMQ (*url*), with its own namespace (queues and exchanges) on the node; a home
    already pointed at another node is moved to this one."""
    path = home / "passerelle.toml"
    head, sep, _transport = path.read_text().partition("\n[transport]\n")
    assert sep, "the home's settings have no [transport] section"
    namespace = f"pt-{uuid.uuid4().hex[:12]}"
    rest = _transport.split("\n[", 1)
    after = "\n[" + rest[1] if len(rest) == 2 else ""
    path.write_text(f'{head}\n[transport]\nurl = "{url}"\nnamespace = "{namespace}"\n'
                    f"release_delay_seconds = 0.2\nreconnect_seconds = 0.5\n{after}")


def use_embedded(home: Path) -> None:
    """Take a home off RabbitMQ (PASSERELLE_TEST_TRANSPORT=amqp may have put it there): embedded transport."""
    path = home / "passerelle.toml"
    head, sep, _transport = path.read_text().partition("\n[transport]\n")
    assert sep, "the home's settings have no [transport] section"
    rest = _transport.split("\n[", 1)
    path.write_text(f"{head}\n[transport]\n" + ("\n[" + rest[1] if len(rest) == 2 else ""))


def no_metrics(home: Path) -> None:
    """No Prometheus endpoint for a test home's `serve` processes (several run at once on one machine); the
    metrics tests give theirs a free port."""
    path = home / "passerelle.toml"
    text = path.read_text()
    assert 'listen = "127.0.0.1:9464"' in text, "init no longer writes the metrics endpoint"
    path.write_text(text.replace('listen = "127.0.0.1:9464"', 'listen = ""'))


def make_home(root: Path, *, store_url: str | None = None, **gateway) -> HubHome:
    identity = home_mod.init(root / "hub", DOMAIN, store_url=store_url or stores.home_store_url(),
                             director=ocam.the_director())
    no_metrics(root / "hub")
    if os.environ.get("PASSERELLE_TEST_AMQP_URL"):  # PASSERELLE_TEST_TRANSPORT=amqp: see tests/conftest.py
        use_amqp(root / "hub", os.environ["PASSERELLE_TEST_AMQP_URL"])
    settings = load(root / "hub")
    settings.delivery.retry_schedule_seconds = [0.3, 0.3, 0.6]
    for name, value in gateway.items():
        setattr(settings.gateway, name, value)
    return HubHome(settings, identity.fingerprint, Gpg(settings.gnupg_home))


def partner(root: Path, name: str, **kwargs) -> TestKey:
    return make_key(root, f"{name}@partner.test", name=name.title(), **kwargs)


def home_with_police(root: Path) -> tuple[HubHome, TestKey]:
    """A fresh hub home with one registered contact point (police)."""
    home = make_home(root)
    key = partner(root, "police")
    home.register(key, "police-fed", "police")
    return home, key


def new_message_id() -> str:
    return f"<{uuid.uuid4().hex}@partner.test>"


def signed(key: TestKey, **kwargs) -> bytes:
    """A signed message with a unique body (identical ed25519 signatures in one second are a replay)."""
    kwargs.setdefault("body", f"Message {uuid.uuid4().hex}")
    return mail.signed_mail(key, **kwargs)


def encrypted(key: TestKey, hub_public: bytes, **kwargs) -> bytes:
    kwargs.setdefault("body", f"Message {uuid.uuid4().hex}")
    return mail.encrypted_mail(key, hub_public, **kwargs)


def cli(home: HubHome, *args: str, clock=None):
    """The real `passerelle` command against *home*, as a member runs it (an act signed by the director unless
    its --signer-home names another; tests/support/ocam.py), *clock* handed over as the command's clock."""
    from hub.cli.main import main

    return CliRunner().invoke(main, ocam.signed([*args, "--home", str(home.settings.home)]), obj=clock)


def reference_in(reply: str) -> str:
    """The PSR reference the gateway named in its 250."""
    match = re.search(r"PSR-\d{4}-\d{6}", reply)
    assert match, reply
    return match.group(0)


def decrypt_for(raw: bytes, to: str) -> bytes:
    """What the contact point at *to* reads in a mail the hub encrypted to it: decrypted in its own GnuPG home (the
    key the test made for that address)."""
    errors = []
    for key in made_for(parseaddr(to)[1]):
        try:
            return run_gpg(key.home, "--decrypt", data=raw)
        except RuntimeError as exc:
            errors.append(str(exc)[:200])
    raise AssertionError(f"no key made for {to} decrypts this mail: {errors}")


@dataclass
class Receipt:
    """A captured receipt, decrypted (as its contact point would: receipts travel encrypted unless the partner
    takes them signed only), checked for its signature and read for its fields."""

    raw: bytes
    message: Message
    report: Message
    fields: dict[str, str]
    text: str
    signature_status: str
    signer: str | None
    encrypted: bool = False

    @classmethod
    def read(cls, raw: bytes, hub_gpg: Gpg) -> "Receipt":
        envelope = pgpmime.analyse(raw)
        encrypted = envelope.kind == "encrypted"
        if encrypted:
            inner = decrypt_for(raw, email.message_from_bytes(raw)["To"])
            envelope = pgpmime.analyse_inner(inner)
            assert envelope is not None, "an encrypted receipt holds a signed one (sign, then encrypt)"
        assert envelope.kind == "signed" and envelope.signed is not None
        check = hub_gpg.verify_detached(envelope.signed.signed_bytes, envelope.signed.signature)
        report = email.message_from_bytes(envelope.signed.signed_bytes)
        assert report.get_content_type() == "multipart/report"
        assert report.get_param("report-type") == "disposition-notification"
        human, notification = report.get_payload()
        fields: dict[str, str] = {}
        for line in notification.get_payload().splitlines() if isinstance(notification.get_payload(), str) else []:
            if ":" in line:
                name, value = line.split(":", 1)
                fields[name.strip()] = value.strip()
        if not fields:  # the email package parses message/disposition-notification into sub-messages
            for block in notification.get_payload():
                fields.update({k: v for k, v in block.items()})
        text = human.get_payload(decode=True).decode("utf-8")
        return cls(raw, email.message_from_bytes(raw), report, fields, text, check.status, check.primary_fingerprint,
                   encrypted)

    def due_at(self) -> datetime | None:
        value = self.fields["X-Passerelle-Due-At"]
        return None if value == "none" else datetime.fromisoformat(value.replace("Z", "+00:00"))
