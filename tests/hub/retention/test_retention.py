"""Retention by time travel through the real CLI (law Art. 10/2; AR Art. 5): reviews due at 30 and 35 years, a
trigger brings one forward, a premature review is refused, only the director's own fresh signature decides, an
erasure shreds the content for good and leaves its record, and nothing survives 50 years."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from crypto import SealError, StorageKey
from gateway.capture import CaptureRelay
from hub.cli.main import main
from hub.clock import FrozenClock
from hub.retention.dates import years_after
from hub.vault import unseal
from store import Database, OutboundMail, RetentionPeriod, SealedBlob
from store.vocabulary import DeliveryState
from tests.hub.rig import make_home, new_message_id, partner, reference_in, signed
from tests.support import ocam, stores
from tests.support.hubrig import RunningHub
from tests.support.keys import make_key, sign_detached

# The hub's clock a day ahead of the real time, on a whole hour (see tests/hub/deadlines/test_scheduler.py).
T0 = (datetime.now(timezone.utc) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
SECOND = timedelta(seconds=1)


def at(years: int, delta: timedelta = timedelta()) -> FrozenClock:
    return FrozenClock(years_after(T0, years) + delta)


def cli(home, clock: FrozenClock, *args: str):
    """The real command, its clock handed over as the command's object (the CLI's injected clock)."""
    return CliRunner().invoke(main, ocam.signed([*args, "--home", str(home.settings.home)]), obj=clock)


def ok(home, clock, *args: str) -> str:
    result = cli(home, clock, *args)
    assert result.exit_code == 0, result.output
    return result.output


def refused(home, clock, *args: str) -> str:
    result = cli(home, clock, *args)
    assert result.exit_code != 0, result.output
    return result.output


def _member(home, tmp: Path, name: str, role: str):
    """A member registered under the director's signature; the director is the one the hub was made with."""
    if role == "director":
        return ocam.director().key
    key = make_key(tmp, f"{name}@ocam.test", name=name.title())
    (tmp / f"{name}.asc").write_bytes(key.public)
    ok(home, FrozenClock(T0), "member", "add", name, "--role", role, "--email", key.email,
       "--key", str(tmp / f"{name}.asc"), "--clearance", "TOP-SECRET")
    return key


@pytest.fixture(scope="module")
def rig(module_tmp):
    home = make_home(module_tmp)
    police = partner(module_tmp, "police")
    home.register(police, "police-fed", "police")
    members = {name: _member(home, module_tmp, name, role)
               for name, role in (("director", "director"), ("ana", "analyst"), ("bob", "analyst"))}
    ok(home, FrozenClock(T0), "holders", "add", "--kind", "judicial", "ana",
       "--signer-home", str(members["director"].home))
    return home, police, members


def accept(rig, n: int = 1, *, embargo: str | None = None) -> list[tuple[str, str]]:
    """*n* messages from police accepted at T0 by a hub that ran until their receipts left: (reference, canary)."""
    home, police, _members = rig
    found = []
    lines = {"Message-Kind": "spontaneous"} | ({"Embargo": embargo} if embargo else {})
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=FrozenClock(T0)) as hub:
        for _ in range(n):
            canary = f"CANARY{uuid.uuid4().hex}"
            code, text = hub.send(signed(police, message_id=new_message_id(), body=f"Renseignement {canary}",
                                         keyword_lines=lines))
            assert code == 250, text
            found.append((reference_in(text), canary))
        assert relay.wait_for(len(found), timeout=30)  # the receipts: their sealed copies are part of each item
    return found


def listed(home, clock, *args: str) -> dict[str, dict]:
    return {r["reference"]: r for r in json.loads(ok(home, clock, "retention", "list", "--json", *args))}


def events(home, reference: str) -> list[dict]:
    return json.loads(ok(home, FrozenClock(T0), "messages", "show", reference, "--json"))["audit"]


def review(rig, clock, reference: str, decision: str, who: str = "director"):
    home, _police, members = rig
    return cli(home, clock, "retention", "review", reference, "--decision", decision,
               "--signer-home", str(members[who].home))


def test_reviews_fall_due_at_30_then_35_years_and_a_keep_moves_the_next_on_by_5(rig):
    home, _police, _members = rig
    [(reference, _canary)] = accept(rig)
    row = listed(home, at(0))[reference]
    assert (row["intake_at"], row["review_due"], row["end_at"]) == (
        T0.isoformat(), years_after(T0, 30).isoformat(), years_after(T0, 50).isoformat())
    assert not row["triggered"]
    human = ok(home, at(0), "retention", "list")
    assert reference in human and ("CET" in human or "CEST" in human)  # Brussels, with its zone
    assert reference not in listed(home, at(0), "--due-before", years_after(T0, 30).date().isoformat())
    assert reference in listed(home, at(0), "--due-before", (years_after(T0, 30) + timedelta(days=1)).isoformat())

    early = review(rig, at(30, -SECOND), reference, "keep")
    assert early.exit_code != 0 and "is not due for review" in early.output and "AR Art. 5" in early.output
    kept = review(rig, at(30), reference, "keep")
    assert kept.exit_code == 0, kept.output
    assert "kept by the director's decision (director)" in kept.output
    assert listed(home, at(30))[reference]["review_due"] == years_after(T0, 35).isoformat()
    assert "is not due for review" in review(rig, at(34, timedelta(days=364)), reference, "keep").output
    assert review(rig, at(35, timedelta(days=20)), reference, "keep").exit_code == 0  # decided late: calendar kept
    assert listed(home, at(35))[reference]["review_due"] == years_after(T0, 40).isoformat()
    reviewed = [e for e in events(home, reference) if e["action"] == "retention.reviewed"]
    assert [(e["actor"], e["detail"]["decision"], e["detail"]["review_due"]) for e in reviewed] == [
        ("director", "keep", years_after(T0, 30).isoformat()), ("director", "keep", years_after(T0, 35).isoformat())]


def test_a_trigger_brings_the_review_forward_and_a_keep_leaves_the_30_year_review(rig, module_tmp):
    home, _police, members = rig
    [(reference, _canary)] = accept(rig)
    assert "is not due for review" in review(rig, at(3), reference, "keep").output
    stranger = make_key(module_tmp, "stranger@elsewhere.test", name="Stranger")
    outsider = cli(home, at(3), "retention", "trigger", reference, "--ground", "person-deceased",
                   "--reason", "Décès constaté", "--signer-home", str(stranger.home))
    assert outsider.exit_code != 0 and "not valid" in outsider.output  # a key the hub does not know
    partner_key = cli(home, at(3), "retention", "trigger", reference, "--ground", "unfounded",
                      "--reason", "Erreur", "--signer-home", str(rig[1].home))
    assert partner_key.exit_code != 0 and "not by the member" in partner_key.output  # known, but no member
    out = ok(home, at(3), "retention", "trigger", reference, "--ground", "person-deceased",
             "--reason", "Décès de la personne concernée, acte du 3 mars", "--signer-home", str(members["ana"].home))
    assert "early review triggered by ana" in out and "2°" in out
    row = listed(home, at(3, SECOND), "--due-before", (years_after(T0, 3) + timedelta(days=1)).isoformat())[reference]
    assert row["triggered"] and row["review_due"] == years_after(T0, 3).isoformat()
    assert "(triggered)" in ok(home, at(3, SECOND), "retention", "list")
    assert review(rig, at(3, timedelta(hours=2)), reference, "keep").exit_code == 0
    row = listed(home, at(4))[reference]
    assert not row["triggered"] and row["review_due"] == years_after(T0, 30).isoformat()
    assert "is not due for review" in review(rig, at(4), reference, "keep").output
    trigger = next(e for e in events(home, reference) if e["action"] == "retention.triggered")
    assert trigger["actor"] == "ana" and trigger["detail"]["ground"] == "person-deceased"
    assert "Décès" not in json.dumps(trigger)  # the reason stays in the signed statement, not in the log


def test_only_the_directors_own_fresh_signature_decides(rig, module_tmp):
    """Another member's key, an altered statement, a replayed one, one made for an earlier review: refused."""
    home, _police, members = rig
    [(reference, _canary)] = accept(rig)
    by_analyst = review(rig, at(30), reference, "erase", who="ana")
    assert by_analyst.exit_code == 2 and "retention.review is not an act of the analyst" in by_analyst.output
    assert "the director decides the erasure (AR Art. 5 §4)" in by_analyst.output
    statement, signature = module_tmp / "keep-30.txt", module_tmp / "keep-30.txt.asc"
    ok(home, at(30), "retention", "review", reference, "--decision", "keep", "--statement-out", str(statement))
    signature.write_bytes(sign_detached(members["director"], statement.read_bytes()))
    later = module_tmp / "keep-30-again.txt"  # also signed at 30 years, for the same review
    ok(home, at(30, SECOND), "retention", "review", reference, "--decision", "keep", "--statement-out", str(later))
    (module_tmp / "keep-30-again.txt.asc").write_bytes(sign_detached(members["director"], later.read_bytes()))
    altered = module_tmp / "altered.txt"
    altered.write_text(statement.read_text().replace("decision: keep", "decision: erase"))
    apply = ("retention", "apply", "--signature")
    assert "not valid" in refused(home, at(30), *apply, str(signature), "--statement", str(altered))
    ok(home, at(30), *apply, str(signature), "--statement", str(statement))
    assert "recorded already" in refused(home, at(31), *apply, str(signature), "--statement", str(statement))
    stale = refused(home, at(35), *apply, str(later) + ".asc", "--statement", str(later))
    assert "the review due now is the one of" in stale
    assert listed(home, at(35))[reference]["review_due"] == years_after(T0, 35).isoformat()
    assert [e["detail"]["decision"] for e in events(home, reference) if e["action"] == "retention.reviewed"] == ["keep"]


def _sealed(home, reference: str) -> list[tuple[int, bytes, bytes]]:
    """(blob id, wrapped data key, ciphertext) of everything sealed for *reference*: its bytes and its copies."""
    db = Database(home.settings.database_url)
    with db.reader() as uow:
        message = uow.messages.by_reference(reference)
        ids = [message.raw_blob_id, *(o.blob_id for o in uow.outbound.for_message(message.id))]
        found = [(b.id, bytes(b.wrapped_key), bytes(b.ciphertext)) for b in (uow.blobs.get(i) for i in ids)]
    db.dispose()
    return found


def _store_files(home) -> bytes:
    db_file = home.settings.home / "passerelle.db"
    return b"".join(p.read_bytes() for p in (db_file, db_file.with_name("passerelle.db-wal")) if p.exists())


def test_an_erasure_shreds_the_content_for_good_and_leaves_its_record(rig, module_tmp):
    home, _police, members = rig
    [(reference, canary)] = accept(rig)
    before = _sealed(home, reference)
    assert len(before) == 2  # the message as received, and its receipt
    opened_at = module_tmp / f"{reference}.eml"
    ok(home, at(1), "messages", "open", reference, "--signer-home", str(members["director"].home),
       "--out", str(opened_at))
    assert canary.encode() in opened_at.read_bytes() and oct(opened_at.stat().st_mode & 0o777) == "0o600"
    ok(home, at(1), "retention", "trigger", reference, "--ground", "unfounded", "--reason", "Signalement infondé",
       "--signer-home", str(members["bob"].home))
    erased = review(rig, at(1, SECOND), reference, "erase")
    assert erased.exit_code == 0 and "can no longer be opened by anyone" in erased.output, erased.output

    gone = refused(home, at(2), "messages", "open", reference, "--signer-home", str(members["director"].home),
                   "--out", str(module_tmp / "again.eml"))
    assert "its content was erased on" in gone and "director" in gone and canary not in gone
    assert not (module_tmp / "again.eml").exists()
    shown = ok(home, at(2), "messages", "show", reference)
    assert "content ERASED" in shown
    trail = events(home, reference)
    assert [e["action"] for e in trail if e["action"].startswith(("message.", "retention."))] == [
        "message.opened", "retention.triggered", "retention.reviewed", "retention.erased"]
    erasure = trail[-1]
    assert erasure["actor"] == "director" and erasure["detail"]["blobs"] == 2
    assert erasure["detail"]["sha256"] == json.loads(ok(home, at(2), "messages", "show", reference, "--json"))["sha256"]
    assert canary not in json.dumps(trail)

    # Even with the storage key and the database, nothing opens: the data keys and ciphertexts are gone.
    key = StorageKey.load(home.settings.storage_key_path)
    db = Database(home.settings.database_url)
    with db.reader() as uow:
        for blob_id, _wrapped, _ciphertext in before:
            blob = uow.blobs.get(blob_id)
            assert blob.wrapped_key is None and bytes(blob.ciphertext) == b""
            with pytest.raises(SealError):
                unseal(key, blob, context=f"message:{reference}")
    db.dispose()
    if not stores.on_postgres():  # the bytes themselves are in neither the database file nor its log
        files = _store_files(home)
        assert canary.encode() not in files
        for _id, wrapped, ciphertext in before:
            assert wrapped not in files and ciphertext[:48] not in files and ciphertext[-48:] not in files
    assert "was erased on" in review(rig, at(31), reference, "keep").output  # nothing left to review


def test_an_erased_embargo_item_opens_for_no_holder(rig, module_tmp):
    """Sealed to the holders' keys, not the hub's: its erasure deletes the ciphertext itself."""
    home, _police, members = rig
    [(reference, canary)] = accept(rig, embargo="judicial")
    db = Database(home.settings.database_url)
    with db.reader() as uow:
        ciphertext = bytes(uow.embargo.for_message(uow.messages.by_reference(reference).id).ciphertext)
    ok(home, at(0), "embargo", "open", reference, "--signer-home", str(members["ana"].home),
       "--out", str(module_tmp / f"{reference}.embargo"))
    assert canary.encode() in (module_tmp / f"{reference}.embargo").read_bytes()
    sealed_to_holders = refused(home, at(0), "messages", "open", reference, "--signer-home",
                                str(members["director"].home), "--out", str(module_tmp / "x.eml"))
    assert "embargo open" in sealed_to_holders
    ok(home, at(2), "retention", "trigger", reference, "--ground", "group-dissolved", "--reason", "Dissolution",
       "--signer-home", str(members["ana"].home))
    assert review(rig, at(2, SECOND), reference, "erase").exit_code == 0
    for holder in ("ana", "director"):
        out = refused(home, at(3), "embargo", "open", reference, "--signer-home", str(members[holder].home))
        assert "its content was erased on" in out and canary not in out
    with db.reader() as uow:
        item = uow.embargo.for_message(uow.messages.by_reference(reference).id)
        assert bytes(item.ciphertext) == b"" and item.content_digest  # what it was, not what it said
    db.dispose()
    erasure = next(e for e in events(home, reference) if e["action"] == "retention.erased")
    assert erasure["detail"]["embargo"] == "judicial" and erasure["detail"]["embargo_sha256"] == item.content_digest
    if not stores.on_postgres():
        assert ciphertext[:48] not in _store_files(home) and ciphertext[-48:] not in _store_files(home)


def test_nothing_survives_50_years_the_scheduler_erases_on_its_own(short_tmp):
    """A running hub whose clock reaches 50 years erases every item without anyone's decision, destroys the
    keys of the periods it emptied, and records each erasure."""
    home = make_home(short_tmp)
    police = partner(short_tmp, "police")
    home.register(police, "police-fed", "police")
    director = _member(home, short_tmp, "director", "director")
    body = short_tmp / "question.txt"
    body.write_text("Question")
    clock = FrozenClock(T0)
    with CaptureRelay() as relay:
        hub = RunningHub(home.settings, relay=relay.address, clock=clock)
        hub.hub.scheduler_sleep = 0.2  # its longest sleep between two looks (the end is decades away)
        with hub:
            sent = ok(home, clock, "send", "request", "--to", "police-fed", "--urgency", "ROUTINE",
                      "--subject", "Q", "--body", str(body))
            references = [reference_in(sent)]
            for _ in range(2):
                code, text = hub.send(signed(police, message_id=new_message_id()))
                assert code == 250, text
                references.append(reference_in(text))
            hub.hub.transport.notify("outbound")
            assert relay.wait_for(3, timeout=30)  # the request and two receipts left: each item has copies
            ok(home, clock, "messages", "open", references[1], "--signer-home", str(director.home),
               "--out", str(short_tmp / "m.eml"))
            clock.set(years_after(T0, 50) - SECOND)
            relay.wait_for(99, timeout=1.5)  # several of the scheduler's looks
            assert set(listed(home, clock)) == set(references)  # a second before the end: all held
            clock.set(years_after(T0, 50) + SECOND)
            for _ in range(150):
                if not listed(home, clock):
                    break
                relay.wait_for(99, timeout=0.1)
            # Reminders sealed a second before the end are in this month's period: its key goes once it is over.
            clock.set((years_after(T0, 50) + timedelta(days=33)).replace(day=2, hour=1))
            for _ in range(150):
                if _live_periods(home) == set():
                    break
                relay.wait_for(99, timeout=0.1)
    assert listed(home, clock) == {}
    for reference in references:
        erasure = next(e for e in events(home, reference) if e["action"] == "retention.erased")
        assert erasure["actor"] == "hub" and "50 years" in erasure["detail"]["basis"]
    gone = refused(home, clock, "messages", "open", references[1], "--signer-home", str(director.home),
                   "--out", str(short_tmp / "again.eml"))
    assert "automatically, 50 years after its intake" in gone
    db = Database(home.settings.database_url)
    with db.reader() as uow:
        blobs = uow.session.query(SealedBlob).all()
        assert len(blobs) >= 5 and all(b.wrapped_key is None and bytes(b.ciphertext) == b"" for b in blobs)
        periods = {p.id: p for p in uow.session.query(RetentionPeriod).all()}
        used = {periods[b.period_id].name for b in blobs}
        destroyed = {e.detail["period"] for e in uow.audit.recent(action="retention.period_key_destroyed")}
    db.dispose()
    assert used <= destroyed and _live_periods(home) == set()
    assert destroyed == {p.name for p in periods.values() if p.wrapped_key is None and p.destroyed_at}


def _live_periods(home) -> set[str]:
    """Periods holding a blob (shredded or not) whose key still exists."""
    db = Database(home.settings.database_url)
    with db.reader() as uow:
        found = {p.name for p in uow.session.query(RetentionPeriod).join(
            SealedBlob, SealedBlob.period_id == RetentionPeriod.id).filter(RetentionPeriod.wrapped_key.is_not(None))}
    db.dispose()
    return found


def test_an_erased_held_request_is_never_released(short_tmp):
    """A request held for want of a usable key, then erased, stays unsent when the key is renewed; the other
    held request goes."""
    from tests.support.keys import gpg as run_gpg

    home = make_home(short_tmp)
    key = make_key(short_tmp, "police@partner.test", expire="seconds=5")  # expired at the hub's T0
    home.register(key, "police-fed", "police")
    members = {name: _member(home, short_tmp, name, role) for name, role in (("director", "director"),
                                                                              ("ana", "analyst"))}
    held = []
    for n in range(2):
        body = short_tmp / f"q{n}.txt"
        body.write_text(f"Question {n}")
        result = cli(home, at(0), "send", "request", "--to", "police-fed", "--urgency", "ROUTINE", "--subject", "Q",
                     "--body", str(body))
        assert result.exit_code == 3 and "HELD" in result.output, result.output
        held.append(reference_in(result.output))
    ok(home, at(0, SECOND), "retention", "trigger", held[0], "--ground", "unfounded", "--reason", "Sans objet",
       "--signer-home", str(members["ana"].home))
    assert review((home, key, members), at(0, 2 * SECOND), held[0], "erase").exit_code == 0
    for subkey in [None, *[line.split(":")[9] for line in run_gpg(key.home, "--list-keys", "--with-colons",
                                                                  key.fingerprint).decode().splitlines()
                           if line.startswith("fpr:")][1:]]:
        run_gpg(key.home, "--quick-set-expire", key.fingerprint, "1y", *([subkey] if subkey else []))
    (short_tmp / "renewed.asc").write_bytes(run_gpg(key.home, "--armor", "--export", key.fingerprint))
    updated = ok(home, at(0, 3 * SECOND), "partner", "update-key", "police-fed", "--key", str(short_tmp / "renewed.asc"))
    assert f"held request {held[1]} released" in updated and held[0] not in updated
    shown = json.loads(ok(home, at(0), "messages", "show", held[0], "--json"))
    assert shown["state"] == "held" and shown["deliveries"] == [] and shown["retention"]["state"] == "erased"


@pytest.mark.parametrize("erased_by", ["this version", "a version that left held copies held"])
def test_an_erased_message_s_held_receipt_is_given_up_not_released(short_tmp, erased_by):
    """A receipt held for want of a key that can be encrypted to, its message then erased: the receipt is given
    up with the rest of what was not sent (its sealed bytes are gone), and renewing the key releases nothing —
    nor fails, where an earlier erasure left the receipt held over its destroyed bytes."""
    from tests.support.keys import gpg as run_gpg

    home = make_home(short_tmp)
    police = make_key(short_tmp, "police@partner.test", name="Police", encryption=False)
    home.register(police, "police-fed", "police")
    rig = (home, police, {name: _member(home, short_tmp, name, role)
                          for name, role in (("director", "director"), ("ana", "analyst"))})
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=FrozenClock(T0)) as hub:
        code, text = hub.send(signed(police, message_id=new_message_id(), keyword_lines={"Message-Kind": "spontaneous"}))
        assert code == 250, text
        reference = reference_in(text)
        for _ in range(100):
            if json.loads(ok(home, at(0), "messages", "show", reference, "--json"))["receipt_status"] == "held":
                break
            relay.wait_for(1, timeout=0.1)
        assert relay.messages == []
    ok(home, at(0, SECOND), "retention", "trigger", reference, "--ground", "unfounded", "--reason", "Sans objet",
       "--signer-home", str(rig[2]["ana"].home))
    assert review(rig, at(0, 2 * SECOND), reference, "erase").exit_code == 0
    if erased_by != "this version":
        db = Database(home.settings.database_url)
        with db.unit_of_work() as uow:
            uow.session.execute(update(OutboundMail).values(state=DeliveryState.HELD))
            uow.commit()
        db.dispose()
    run_gpg(police.home, "--quick-add-key", police.fingerprint, "cv25519", "encr", "0")
    (short_tmp / "renewed.asc").write_bytes(run_gpg(police.home, "--armor", "--export", police.fingerprint))
    updated = ok(home, at(0, 3 * SECOND), "partner", "update-key", "police-fed", "--key", str(short_tmp / "renewed.asc"))
    assert "released" not in updated, updated
    shown = json.loads(ok(home, at(0), "messages", "show", reference, "--json"))
    assert [(d["purpose"], d["state"]) for d in shown["deliveries"]] == [("receipt", "failed")], shown["deliveries"]
