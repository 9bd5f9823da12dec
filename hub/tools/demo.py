"""`passerelle demo`: a fresh hub, four simulated support services sending real signed SMTP traffic, a
capturing relay, an accelerated clock, and the dashboard in front. Quitting the dashboard, a stop signal
or the terminal closing stops it all and removes the temporary home."""

from __future__ import annotations

import random
import shutil
import smtplib
import ssl
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Callable

from crypto import Gpg
from crypto.mime import compose
from crypto.openpgp.gpg_process import stop_agent
from gateway.capture import CaptureRelay
from store import Database
from store.vocabulary import URGENCIES, DeadlineState

from hub.acts import statements
from hub.acts.signed import MemberHome
from hub.embargo import holders
from hub.registry import members, partners, recipients
from hub.registry.recipients import OCAM_DUTY
from .background import BackgroundHub
from .director import DIRECTOR, init_with_director
from hub.clock import SystemClock
from hub.outbound.requests import send_request
from hub.settings import load

from .demo_stop import Interrupted, StopSignals, Terminal

PARTNERS = (("police-fed", "police"), ("vsse", "intelligence"), ("customs", "customs"),
            ("foreign-affairs", "foreign-affairs"))


class AcceleratedClock:
    """Wall-clock time running *factor* times faster from the moment it is made (UTC-aware)."""

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self._start = datetime.now(timezone.utc)
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._t0) * self.factor)


@dataclass
class _Sender:
    name: str
    kind: str
    email: str
    gpg: Gpg
    fingerprint: str


class Demo:
    """Everything the demo runs, started and stopped together."""

    def __init__(self, *, speed: float, root: Path | None = None, within: Path | None = None) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="pdemo", dir=within))  # *within*: where it is made
        self.clock = AcceleratedClock(speed)
        self.stop = threading.Event()
        self.sent = 0

    def start(self) -> Database:
        init_with_director(self.root)
        self.settings = load(self.root / "hub")
        self.settings.delivery.retry_schedule_seconds = [600, 1800, 3600]  # clock seconds: fast under acceleration
        self.settings.gateway.max_signature_age = timedelta(days=36500)  # partners sign in real time, the hub runs fast
        # A member's act is signed and verified within a real second or so: many seconds of the accelerated clock.
        self.settings.hub.act_max_age_seconds *= max(1.0, self.clock.factor)
        self.relay = CaptureRelay().start()
        self.db = Database(self.settings.database_url)
        hub_gpg = Gpg(self.settings.gnupg_home)
        director = self.signer(DIRECTOR, hub_gpg)
        self.senders = []
        with self.db.unit_of_work() as uow:
            for name, kind in PARTNERS:
                gpg = Gpg(self.root / name)
                email = f"spoc@{name}.demo"
                fpr = gpg.generate_key(f"{name} <{email}>")
                partners.add(uow, hub_gpg, SystemClock(), director, name=name, kind=kind, email=email,
                             key_data=gpg.export_public(fpr))
                self.senders.append(_Sender(name, kind, email, gpg, fpr))
            uow.commit()
        self._members(hub_gpg, director)
        stranger = Gpg(self.root / "stranger")
        self.stranger = _Sender("stranger", "police", "someone@stranger.demo", stranger,
                                stranger.generate_key("Stranger <someone@stranger.demo>"))
        self.hub = BackgroundHub(self.settings, relay=self.relay.address, clock=self.clock)
        self.hub.hub.scheduler_sleep = 1.0
        self.hub.start()
        # The partners' mail servers report OCAM's requests delivered (RFC 3464): that starts their clocks.
        self.relay.return_dsns(self._return_dsn)
        self.traffic = threading.Thread(target=self._traffic, name="demo-partners", daemon=True)
        self.traffic.start()
        return self.db

    MEMBERS = (("analyst-a", "analyst"), ("expert-b", "expert"), ("duty-officer", "staff"))

    def signer(self, name: str, hub_gpg: Gpg) -> MemberHome:
        """The simulated member *name*'s own GnuPG home, through which they sign their acts."""
        return MemberHome.of(self.root / name, self.settings, hub_gpg)

    def _members(self, hub_gpg: Gpg, director: MemberHome) -> None:
        """OCAM's members (the director registered when the hub was made), each with a key in their own home,
        registered under the director's signature, and the duty desk, which gets a copy of every accepted message;
        the director designates the analyst as holder of both embargo kinds (signed statements, as `holders add`
        does). The dashboard acts as the duty officer (staff)."""
        with self.db.unit_of_work() as uow:
            for name, role in self.MEMBERS:
                gpg = Gpg(self.root / name)
                email = f"{name}@ocam.demo"
                fpr = gpg.generate_key(f"{name} <{email}>")
                members.add(uow, hub_gpg, SystemClock(), director, name=name, role=role, email=email,
                            key_data=gpg.export_public(fpr), clearance="TOP-SECRET")
            desk = Gpg(self.root / "duty-desk")
            fpr = desk.generate_key("OCAM duty desk <duty@ocam.demo>")
            recipients.add(uow, hub_gpg, SystemClock(), director, name="duty-desk", type=OCAM_DUTY,
                           email="duty@ocam.demo", key_data=desk.export_public(fpr), clearance="SECRET")
            uow.commit()
        for kind in holders.KINDS:
            with self.db.unit_of_work() as uow:
                change = holders.propose(uow, kind=kind, action="add", member_name="analyst-a",
                                         hub=self.settings.hub.address, now=self.clock.now())
                boss = members.director(uow)
                text = change.statement()
                signature = statements.sign_with_home(self.root / DIRECTOR, boss.fingerprint, text)
                holders.apply(uow, hub_gpg, SystemClock(), statement=text, signature=signature,
                              hub=self.settings.hub.address)
                uow.commit()

    def close(self) -> None:
        """Stop what was started (all of it, or what a failed start got to) and remove the temporary home."""
        self.stop.set()
        traffic, hub, relay, db = (getattr(self, name, None) for name in ("traffic", "hub", "relay", "db"))
        if traffic is not None:
            traffic.join(10)
        if hub is not None:
            hub.stop()
        if relay is not None:
            relay.stop()
        if db is not None:
            db.dispose()
        for path in _gnupg_homes(self.root):  # every home made, also one a start cut short was making
            stop_agent(path)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- the simulated partners --------------------------------------------------------------

    def _traffic(self) -> None:
        rng = random.Random(7)
        step = 0
        while not self.stop.wait(1.5):
            step += 1
            sender = rng.choice(self.senders)
            try:
                if step % 7 == 0:
                    self._ocam_request(rng.choice(self.senders).name, rng.choice(URGENCIES))
                elif step % 11 == 0:
                    self._submit(self.stranger, "request", rng.choice(URGENCIES))  # unknown signer: refused
                elif step % 13 == 0:
                    self._submit(sender, "request", "URGENT", tamper=True)  # bad signature: refused
                elif step % 5 == 0:
                    self._answer_one(sender)
                else:
                    kind = rng.choice(("request", "request", "spontaneous"))
                    embargo = "judicial" if step % 9 == 0 else None
                    if step % 17 == 0 and sender.kind == "intelligence":
                        embargo = "foreign"
                    self._submit(sender, kind, rng.choice(URGENCIES), embargo=embargo)
            except (OSError, smtplib.SMTPException):
                continue

    def _submit(self, sender: _Sender, kind: str, urgency: str, *, embargo: str | None = None,
                request_ref: str | None = None, tamper: bool = False) -> None:
        lines = [f"Urgency: {urgency}", f"Message-Kind: {kind}"]
        if embargo:
            lines.append(f"Embargo: {embargo}")
        if request_ref:
            lines.append(f"Request-Ref: {request_ref}")
        body = "\r\n".join(lines) + f"\r\n\r\nDemo message {uuid.uuid4().hex} from {sender.name}.\r\n"
        entity = b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + body.encode()
        headers = [("From", sender.email), ("To", self.settings.hub.address), ("Subject", f"{kind} ({urgency})"),
                   ("Date", format_datetime(datetime.now(timezone.utc))),
                   ("Message-ID", make_msgid(domain=f"{sender.name}.demo"))]
        raw = compose.sign_entity(sender.gpg, entity, sender.fingerprint, headers)
        if tamper:
            raw = raw.replace(b"Demo message", b"Forged message")
        self._send(sender.email, raw)
        self.sent += 1

    def _send(self, mail_from: str, raw: bytes) -> None:
        """One submission to the hub's gateway over STARTTLS (its own certificate, on loopback)."""
        tls = ssl.create_default_context()
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", self.hub.port, timeout=30) as client:
            client.starttls(context=tls)
            client.ehlo()
            try:
                client.sendmail(mail_from, [self.settings.hub.address], raw)
            except smtplib.SMTPDataError:
                pass  # a refusal is part of the demo; the dashboard shows it

    def _return_dsn(self, raw: bytes) -> None:
        if self.stop.is_set():
            return
        try:
            self._send("", raw)
        except (OSError, smtplib.SMTPException):
            pass  # the hub is stopping

    def _ocam_request(self, partner: str, urgency: str) -> None:
        from hub.transport.embedded import EmbeddedTransport
        from crypto import StorageKey

        with self.db.unit_of_work() as uow:  # the analyst asks, under their own key
            send_request(uow, settings=self.settings, gpg=self.hub.hub.gpg,
                         key=StorageKey.load(self.settings.storage_key_path), clock=self.clock,
                         transport=EmbeddedTransport(self.db, self.clock),
                         by=self.signer("analyst-a", self.hub.hub.gpg), partner_name=partner, urgency=urgency,
                         subject="Demande de vérification", body="Merci de vérifier.", attachments=[], due_at=None)
            uow.commit()
        self.hub.hub.transport.notify("outbound")

    def _answer_one(self, sender: _Sender) -> None:
        """The partner answers one of OCAM's open requests to it (some stay unanswered and go overdue)."""
        from sqlalchemy import select

        from store import Deadline, Message, Partner

        with self.db.reader() as uow:
            ref = uow.session.scalar(
                select(Message.reference).join(Deadline, Deadline.message_id == Message.id)
                .join(Partner, Partner.id == Deadline.partner_id)
                .where(Deadline.state == DeadlineState.OPEN, Deadline.owed_by == "partner", Partner.name == sender.name)
                .order_by(Deadline.due_at).limit(1))
        if ref:
            self._submit(sender, "response", "ROUTINE", request_ref=ref)


def _gnupg_homes(root: Path) -> list[Path]:
    """The GnuPG homes under *root*: the directories gpg has written a keyring or a secret key into."""
    found = [root, *root.rglob("*")] if root.exists() else []
    return [p for p in found if (p / "pubring.kbx").exists() or (p / "private-keys-v1.d").exists()]


def run(speed: float, dashboard: Callable[[Database, Demo], object], *, within: Path | None = None) -> int:
    """The demo with the app *dashboard* makes in front, until it is quit or a stop signal arrives; cleaned
    up (threads stopped, gpg-agents stopped, temporary home removed, terminal settings put back) in every
    case. Returns the exit status (StopSignals.status)."""
    return run_session(Demo(speed=speed, within=within), dashboard, Terminal())


def run_session(session, dashboard: Callable[[Database, Demo], object], terminal: Terminal) -> int:
    """*session* started, then the dashboard run, until it is quit or a stop signal arrives; *session* closed and
    *terminal* restored in every case. Returns the exit status: 0 when quit, 128 + the signal when stopped."""
    def cleanup() -> None:
        session.close()
        terminal.restore()

    with StopSignals(cleanup) as signals:
        try:
            db = session.start()
            if signals.received:  # the signal's Interrupted was swallowed on the way (a finaliser, a library)
                raise Interrupted(signals.received)
            signals.app = dashboard(db, session)
            signals.app.run()
        except Interrupted:
            pass
        except BaseException:
            if not signals.received:
                raise
            # Interrupted in the middle of a step whose own cleanup then failed (a transaction rolled back half
            # way): the stop was asked for, and the stop is what is done; the error was only its consequence.
        finally:
            signals.finished()
    return signals.status
