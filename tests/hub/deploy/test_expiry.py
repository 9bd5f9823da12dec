"""Expiry warnings by time travel: every registered key (partner, member, recipient) 30 and 7 days before it
expires gets an alert and a notice, signed by the hub and encrypted to its owner; each threshold once, whatever
restarts; the hub's own key and the TLS certificate warn the duty officer; the dashboard shows them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from click.testing import CliRunner
from sqlalchemy import select

from crypto import Gpg, StorageKey
from gateway.capture import CaptureRelay
from hub.cli.main import main
from hub.clock import FrozenClock
from hub.deadlines.scheduler import Scheduler
from hub.deploy.expiry import threshold_due
from hub.settings import load
from hub.transport.embedded import EmbeddedTransport
from store import AuditEvent, OutboundMail
from tests.hub.deploy.support import holders, ok, open_mail
from tests.hub.rig import HubHome, make_home
from tests.support import stores
from tests.support.certs import authority
from tests.support.hubrig import RunningHub
from tests.support.keys import gpg, make_key
from tests.support import ocam

DAY = timedelta(days=1)


def _warnings(home, action: str = "alert.key_expiring") -> list[dict]:
    db = home.db()
    with db.reader() as uow:
        found = [e.detail for e in uow.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                                       .order_by(AuditEvent.id))]
    db.dispose()
    return found


def _scheduler(home, clock) -> tuple[Scheduler, object]:
    """A scheduler as a (re)started hub makes it: a fresh instance on the home's store."""
    db = home.db()
    return Scheduler(settings=home.settings, db=db, gpg=Gpg(home.settings.gnupg_home),
                     storage_key=StorageKey.load(home.settings.storage_key_path), clock=clock,
                     transport=EmbeddedTransport(db, clock)), db


def test_the_nearest_threshold_passed_and_not_yet_given():
    assert threshold_due(40 * DAY, [30, 7], ()) is None
    assert threshold_due(29 * DAY, [30, 7], ()) == 30
    assert threshold_due(29 * DAY, [30, 7], {30}) is None
    assert threshold_due(6 * DAY, [30, 7], {30}) == 7
    assert threshold_due(6 * DAY, [30, 7], ()) == 7  # down past the 30-day mark: the 7-day warning alone
    assert threshold_due(5 * DAY, [30, 7], {7}) is None  # ...and never the 30-day one after it
    assert threshold_due(-DAY, [30, 7], ()) is None  # expired: refused already, no warning


def test_owners_are_warned_30_and_7_days_before_their_keys_expire_once_each(short_tmp):
    home = make_home(short_tmp)
    keys = holders(home, short_tmp, expire="40d")
    now = datetime.now(timezone.utc)
    clock = FrozenClock(now)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        hub.hub.scheduler_sleep = 0.2
        relay.wait_for(1, timeout=1)  # the scheduler's first look, 40 days ahead: nothing to say
        assert not relay.messages and not _warnings(home)
        clock.set(now + 11 * DAY)  # 29 days left
        relay.wait_for(3, timeout=60)
    warned = _warnings(home)
    assert sorted((w["owner"], w["name"], w["days"]) for w in warned) == [
        ("member", "a.peeters", 30), ("partner", "police-fed", 30), ("recipient", "interior", 30)]
    assert all(w["notice"] == "queued" and w["days_left"] in (28, 29) for w in warned)
    hub_public = Gpg(home.settings.gnupg_home).export_public(home.fingerprint)
    by_address = {m.rcpt_tos[0]: m.data for m in relay.messages}
    assert set(by_address) == {k.email for k in keys.values()}
    for name, key in keys.items():
        opened = open_mail(by_address[key.email], key, hub_public)
        assert opened.signers == [home.fingerprint]
        assert key.fingerprint in opened.plaintext.decode("latin-1").replace("=\r\n", "")
        assert opened.headers["Subject"].startswith("Passerelle: your OpenPGP key expires on ")
        assert b"gpg --quick-set-expire" in opened.plaintext
    # A restart (a new scheduler), then every check of the next days: nothing more until the 7-day mark.
    for day in (11, 12, 20, 32):
        scheduler, db = _scheduler(home, FrozenClock(now + day * DAY + timedelta(hours=1)))
        scheduler.tick()
        db.dispose()
    assert len(_warnings(home)) == 3
    scheduler, db = _scheduler(home, FrozenClock(now + 34 * DAY))  # 6 days left
    scheduler.tick()
    scheduler.lifecycle._last = None  # the same scheduler's next check: once only
    scheduler.tick()
    with db.reader() as uow:
        purposes = sorted(m.purpose for m in uow.session.scalars(select(OutboundMail)))
    db.dispose()
    assert [w["days"] for w in _warnings(home)] == [30, 30, 30, 7, 7, 7]
    assert purposes == ["key-expiry-30"] * 3 + ["key-expiry-7"] * 3


def test_a_hub_down_past_the_30_day_mark_gives_the_7_day_warning_alone(short_tmp):
    home = make_home(short_tmp)
    holders(home, short_tmp, expire="40d")
    scheduler, db = _scheduler(home, FrozenClock(datetime.now(timezone.utc) + 35 * DAY))
    scheduler.tick()
    db.dispose()
    assert sorted(w["days"] for w in _warnings(home)) == [7, 7, 7]


def test_the_hubs_own_key_and_the_certificate_warn_the_duty_officer(short_tmp):
    """An imported hub key that expires, and a certificate of the organisation's CA for 20 days: alerts only."""
    hub_key = make_key(short_tmp, "hub@ocam.test", name="Passerelle hub", expire="20d")
    secret = short_tmp / "hub-secret.asc"
    secret.write_bytes(gpg(hub_key.home, "--armor", "--export-secret-keys", hub_key.fingerprint))
    store = stores.home_store_url()
    result = CliRunner().invoke(main, ["init", "--domain", "ocam.test", "--hub-key", str(secret), "--home",
                                       str(short_tmp / "hub"), *(["--store-url", store] if store else []),
                                       *ocam.init_options(short_tmp)])
    assert result.exit_code == 0, result.output
    settings = load(short_tmp / "hub")
    home = HubHome(settings, hub_key.fingerprint, Gpg(settings.gnupg_home))
    ca = authority(short_tmp / "ca")
    cert, key = ca.issue("hub", ["hub.ocam.example"], days=20)
    ok(home, "tls", "install", "--cert", str(cert), "--key", str(key), "--chain", str(ca.intermediate))
    scheduler, db = _scheduler(home, FrozenClock(datetime.now(timezone.utc)))
    scheduler.tick()
    with db.reader() as uow:
        mails = uow.session.scalars(select(OutboundMail)).all()
    db.dispose()
    (hub_warning,) = _warnings(home)
    assert hub_warning["owner"] == "hub" and hub_warning["days"] == 30 and not mails  # no notice to anyone
    assert "duty officer" in hub_warning["notice"]
    (tls_warning,) = _warnings(home, "alert.tls_expiring")
    assert tls_warning["days"] == 30 and tls_warning["names"] == ["hub.ocam.example"]
    alerts = ok(home, "duty", "alerts")
    assert "key_expiring" in alerts and "tls_expiring" in alerts
