"""Inbound reaches OCAM (AR Art. 11; law Art. 6): every accepted message goes to the duty desk and the people the
routing rules name, each copy signed by the hub, encrypted to that one key, the partner's original inside and
verifiable with the partner's key; FLASH first; never in clear; embargoed content never copied."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest

from gateway.capture import CaptureRelay
from tests.hub.inbound.support import (
    desk, encryption_key_ids, member, ok, open_copy, recipient_key_ids, verify_original,
)
from tests.hub.rig import encrypted, home_with_police, new_message_id, reference_in, signed
from tests.support.hubrig import RunningHub


def _canary() -> str:
    return f"CANARY{uuid.uuid4().hex.upper()}"


def _to(relay, address: str, count: int = 1, timeout: float = 30.0):
    """The first *count* mails captured for *address* (waits, bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [c for c in relay.messages if address in c.rcpt_tos]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        relay.wait_for(len(relay.messages) + 1, timeout=0.2)


def _show(home, reference: str) -> dict:
    return json.loads(ok(home, "messages", "show", reference, "--json"))


@pytest.mark.parametrize("how", ["signed", "combined", "encapsulated"])
def test_a_request_reaches_the_duty_desk_encrypted_to_its_key_alone_the_partners_signature_verifiable(short_tmp, how):
    """Signed, or signed and encrypted to the hub (in one OpenPGP message, or signed then encrypted): the desk's
    copy is PGP/MIME encrypted to its one key, states reference, urgency and due time in its protected header,
    and holds the partner's original, whose signature gpg verifies with the partner's public key alone."""
    home, police = home_with_police(short_tmp)
    duty = desk(home, short_tmp)
    canary = _canary()
    lines = {"Urgency": "URGENT", "Message-Kind": "request"}
    if how == "signed":
        raw = signed(police, body=f"Rapport {canary}", keyword_lines=lines, subject="Suspect vehicle")
    else:
        raw = encrypted(police, home.gpg.export_public(home.fingerprint), mode=how, body=f"Rapport {canary}",
                        keyword_lines=lines, subject="Suspect vehicle")
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        code, text = hub.send(raw)
        assert code == 250, text
        reference = reference_in(text)
        (captured,) = _to(relay, duty.email)
        _to(relay, police.email)  # the receipt
    assert canary.encode() not in captured.data  # in transit: ciphertext only
    copy = open_copy(captured.data, duty, home)
    assert recipient_key_ids(copy.ciphertext) == encryption_key_ids(duty)
    assert copy.outer["Subject"] == f"Passerelle {reference}" and copy.outer["X-Passerelle-Reference"] is None
    shown = _show(home, reference)
    assert copy.protected["X-Passerelle-Reference"] == reference
    assert copy.protected["Urgency"] == "URGENT" and copy.protected["Message-Kind"] == "request"
    assert copy.protected["X-Passerelle-Due-At"] == shown["due_at"][:19] + "Z"
    assert copy.protected["Subject"] == f"[URGENT] {reference} request from police-fed: Suspect vehicle"
    assert "rule duty-desk" in copy.text and reference in copy.text
    status = verify_original(copy.original, police)
    assert "VALIDSIG" in status and police.fingerprint in status
    assert canary.encode() in copy.original
    if how == "signed":
        assert copy.original == raw  # the partner's message exactly as received
    # tracked like every delivery: the copy is in `messages show`, with why the desk got it
    assert [(d["purpose"], d["to"], d["state"]) for d in shown["deliveries"]] == [
        ("receipt", police.email, "sent"), ("copy", duty.email, "sent")]
    assert [(r["name"], r["as"], r["included"]) for r in shown["routing"]] == [("duty-desk", "desk", True)]
    assert {"copy.queued", "copy.sent"} <= {e["action"] for e in shown["audit"]}
    why = ok(home, "messages", "why", reference, "duty-desk")
    assert "received a copy of" in why and "rule duty-desk" in why and "delivery sent" in why


def test_a_flash_copy_goes_before_a_routine_backlog(short_tmp):
    """With the relay down, ROUTINE messages' receipts and copies queue up; when it returns the FLASH ones go first."""
    home, police = home_with_police(short_tmp)
    home.settings.delivery.workers = 1
    home.settings.delivery.retry_schedule_seconds = [1.0]
    duty = desk(home, short_tmp)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        relay.defer(10**6)
        for _ in range(4):
            assert hub.send(signed(police, keyword_lines={"Urgency": "ROUTINE"}))[0] == 250
        code, text = hub.send(signed(police, keyword_lines={"Urgency": "FLASH", "Message-Kind": "request"}))
        flash = reference_in(text)
        for _ in range(600):  # the relay failed once, and the FLASH copy is queued: every mail waits for the relay
            if relay.attempts >= 1 and "copy" in [d["purpose"] for d in _show(home, flash)["deliveries"]]:
                break
            time.sleep(0.05)
        relay.defer(0)
        copies = _to(relay, duty.email, 5)
    assert len(copies) == 5
    assert open_copy(copies[0].data, duty, home).protected["X-Passerelle-Reference"] == flash
    assert open_copy(copies[0].data, duty, home).protected["Urgency"] == "FLASH"


def test_a_desk_whose_key_expired_gets_no_cleartext_but_an_alert(short_tmp):
    """The desk's key expired after it was registered: its copy is held (nothing in clear reaches the relay), an
    alert is raised, the other desk still gets its copy, and `messages why` says why."""
    home, police = home_with_police(short_tmp)
    lapsing = desk(home, short_tmp, "night-desk", expire="seconds=8")
    duty = desk(home, short_tmp)
    time.sleep(9)
    canary = _canary()
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        code, text = hub.send(signed(police, body=f"Rapport {canary}"))
        reference = reference_in(text)
        (copy,) = _to(relay, duty.email)
        time.sleep(0.5)
        captured = relay.messages
    assert not [c for c in captured if lapsing.email in c.rcpt_tos]
    assert all(canary.encode() not in c.data for c in captured)
    shown = _show(home, reference)
    held = [e for e in shown["audit"] if e["action"] == "alert.copy_held"]
    assert [(e["detail"]["recipient"], e["detail"]["why"][:17]) for e in held] == [("night-desk", "key expired since")]
    assert re.search(rf"copy_held\s+{reference}", ok(home, "duty", "alerts"))
    assert "its copy is held: key expired since" in ok(home, "messages", "why", reference, "night-desk")
    assert canary.encode() in open_copy(copy.data, duty, home).original


def test_an_embargoed_item_reaches_no_desk_and_its_holders_get_a_notice(short_tmp):
    """An embargoed request's content reaches no desk and no holder by mail (its canary is in nothing the relay
    took); each current holder gets a notice, encrypted to their key, of the reference and how to open it."""
    home, police = home_with_police(short_tmp)
    duty = desk(home, short_tmp)
    director = member(home, short_tmp, "director", "director", clearance="TOP-SECRET")
    ana = member(home, short_tmp, "ana", "analyst")
    ok(home, "holders", "add", "--kind", "judicial", "ana", "--signer-home", str(director.home))
    canary = _canary()
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        code, text = hub.send(signed(police, body=f"Source {canary}",
                                     keyword_lines={"Embargo": "judicial", "Message-Kind": "request"}))
        reference = reference_in(text)
        notices = {key.email: _to(relay, key.email)[0] for key in (director, ana)}
        time.sleep(0.5)
        captured = relay.messages
    assert all(canary.encode() not in c.data for c in captured)
    assert not [c for c in captured if duty.email in c.rcpt_tos]
    for key in (director, ana):
        notice = open_copy(notices[key.email].data, key, home)
        assert recipient_key_ids(notice.ciphertext) == encryption_key_ids(key)
        assert notice.original is None and canary not in notice.text
        assert notice.protected["X-Passerelle-Reference"] == reference and notice.protected["Embargo"] == "judicial"
        assert f"passerelle embargo open {reference}" in notice.text and "version 1 (2 holder(s))" in notice.text
    shown = _show(home, reference)
    assert sorted((r["name"], r["as"]) for r in shown["routing"]) == [("ana", "holder"), ("director", "holder")]
    assert sorted(d["purpose"] for d in shown["deliveries"]) == ["notice", "notice", "receipt"]


def test_a_rule_by_partner_kind_sends_a_copy_to_a_named_member(short_tmp):
    """An operator's rules file routes police messages to an analyst as well as to the duty desk; a customs
    message reaches the desk only."""
    home, police = home_with_police(short_tmp)
    from tests.hub.rig import partner

    customs = partner(short_tmp, "customs")
    home.register(customs, "customs", "customs")
    duty = desk(home, short_tmp)
    ana = member(home, short_tmp, "ana", "analyst")
    rules = short_tmp / "rules.toml"
    rules.write_text('[[rule]]\nname = "duty"\nbasis = "AR Art. 11 §2"\nduty_desks = true\n\n'
                     '[[rule]]\nname = "police-analyst"\nbasis = "police files go to the police analyst"\n'
                     'partner_kind = ["police"]\nmembers = ["ana"]\n')
    home.settings.hub.inbound_rules_file = str(rules)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        police_ref = reference_in(hub.send(signed(police))[1])
        customs_ref = reference_in(hub.send(signed(customs))[1])
        (to_ana,) = _to(relay, ana.email)
        _to(relay, duty.email, 2)
        time.sleep(0.5)
        to_ana_all = [c for c in relay.messages if ana.email in c.rcpt_tos]
    copy = open_copy(to_ana.data, ana, home)
    assert copy.protected["X-Passerelle-Reference"] == police_ref and len(to_ana_all) == 1
    assert "rule police-analyst: police files go to the police analyst" in copy.text
    verify_original(copy.original, police)
    assert [(r["name"], r["as"]) for r in _show(home, police_ref)["routing"]] == [("duty-desk", "desk"),
                                                                                 ("ana", "member")]
    assert [r["name"] for r in _show(home, customs_ref)["routing"]] == ["duty-desk"]
    assert "no routing rule names it" in ok(home, "messages", "why", customs_ref, "ana")


def test_a_redelivered_intake_item_yields_one_copy_per_recipient(short_tmp):
    """An intake item handed out again (as after a crash) makes no second copy."""
    home, police = home_with_police(short_tmp)
    duty = desk(home, short_tmp)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        reference = reference_in(hub.send(signed(police, message_id=new_message_id()))[1])
        _to(relay, duty.email)
        db = home.db()
        with db.unit_of_work() as uow:
            message = uow.messages.by_reference(reference)
            hub.hub.transport.publish(uow, "intake", {"message_id": message.id}, priority=9)
            uow.commit()
        hub.hub.transport.notify("intake")
        relay.wait_for(3, timeout=3)
        with db.reader() as uow:
            purposes = sorted(o.purpose for o in uow.outbound.for_message(message.id))
            routed = [d.name for d in uow.distributions.for_message(message.id)]
        db.dispose()
    assert purposes == ["copy", "receipt"] and routed == ["duty-desk"]
    assert len([c for c in relay.messages if duty.email in c.rcpt_tos]) == 1


def test_no_desk_registered_the_message_is_marked_unrouted(short_tmp):
    """With nobody to route it to, the message is processed as before (its receipt) and says it reached nobody."""
    home, police = home_with_police(short_tmp)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        reference = reference_in(hub.send(signed(police))[1])
        _to(relay, police.email)
    shown = _show(home, reference)
    assert "inbound.unrouted" in [e["action"] for e in shown["audit"]] and shown["routing"] == []


def test_a_desk_cleared_below_the_classification_gets_nothing_and_an_alert_says_so(short_tmp):
    """A TOP-SECRET message and a desk cleared SECRET: no copy (not even encrypted), the reason recorded, and an
    alert since nobody it is routed to may receive it."""
    home, police = home_with_police(short_tmp)
    duty = desk(home, short_tmp, clearance="SECRET")
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        reference = reference_in(hub.send(signed(police, keyword_lines={"Classification": "TOP-SECRET"}))[1])
        _to(relay, police.email)
    shown = _show(home, reference)
    assert [d["purpose"] for d in shown["deliveries"]] == ["receipt"]
    assert [(r["name"], r["included"], r["reason"]) for r in shown["routing"]] == [
        ("duty-desk", False, "clearance SECRET below the message's classification TOP-SECRET")]
    assert {"copy.withheld", "alert.inbound_withheld"} <= {e["action"] for e in shown["audit"]}
    assert not [c for c in relay.messages if duty.email in c.rcpt_tos]
    assert "received no copy" in ok(home, "messages", "why", reference, "duty-desk")
