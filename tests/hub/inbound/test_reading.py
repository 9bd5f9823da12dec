"""Reading through the hub (law Art. 9 §3 5° and 7°): `messages open REF --signer-home DIR` gives a member the
partner's original when the competence rule allows it, records the opening with the member's name and signed
statement first, and refuses (recorded) a member the message was not routed to, an unknown key, an embargoed item."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import uuid

import pytest

from gateway.capture import CaptureRelay
from store import Database
from tests.hub.inbound.support import desk, member, ok, run, verify_original
from tests.hub.rig import encrypted, home_with_police, reference_in, signed
from tests.support.hubrig import RunningHub
from tests.support.keys import gpg, make_key, short_home


@pytest.fixture(scope="module")
def rig(module_tmp):
    """A hub whose rules route police messages to the analyst ana; bob, another analyst, is routed nothing; dan is
    the deputy."""
    home, police = home_with_police(module_tmp)
    desk(home, module_tmp)
    people = {"director": member(home, module_tmp, "director", "director", clearance="TOP-SECRET"),
              "ana": member(home, module_tmp, "ana", "analyst"), "bob": member(home, module_tmp, "bob", "analyst"),
              "dan": member(home, module_tmp, "dan", "deputy")}
    ok(home, "holders", "add", "--kind", "judicial", "ana", "--signer-home", str(people["director"].home))
    rules = module_tmp / "rules.toml"
    rules.write_text('[[rule]]\nname = "duty"\nbasis = "AR Art. 11 §2"\nduty_desks = true\n\n'
                     '[[rule]]\nname = "police-analyst"\nbasis = "police files"\npartner_kind = ["police"]\n'
                     'members = ["ana"]\n')
    home.settings.hub.inbound_rules_file = str(rules)
    canaries = {}
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        for how in ("signed", "combined", "embargoed"):
            canaries[how] = f"CANARY{uuid.uuid4().hex.upper()}"
            lines = {"Message-Kind": "request", **({"Embargo": "judicial"} if how == "embargoed" else {})}
            raw = (encrypted(police, home.gpg.export_public(home.fingerprint), body=canaries[how], keyword_lines=lines)
                   if how == "combined" else signed(police, body=canaries[how], keyword_lines=lines))
            code, text = hub.send(raw)
            assert code == 250, text
            canaries[reference_in(text)] = canaries.pop(how)
            canaries[how] = reference_in(text)
        relay.wait_for(8, timeout=30)  # receipts, copies to the desk and ana, notices to the holders
    return home, police, people, canaries


def _events(home, reference: str) -> list[tuple[str, str, dict]]:
    db = Database(home.settings.database_url)
    with db.reader() as uow:
        found = [(e.action, e.actor, e.detail) for e in uow.audit.for_message(reference)]
    db.dispose()
    return found


def test_the_director_the_deputy_and_a_routed_member_open_the_partners_original(rig, module_tmp):
    """The director and the deputy open any message, ana the one routed to her: the output is the partner's
    original (0600), gpg verifies its signature with the partner's key, and the opening is recorded with the
    member's name and the statement they signed, which verifies with their key."""
    home, police, people, canaries = rig
    for how in ("signed", "combined"):
        reference = canaries[how]
        for name in ("director", "ana", "dan"):
            out = module_tmp / f"{name}-{reference}.eml"
            result = run(home, "messages", "open", reference, "--signer-home", str(people[name].home),
                         "--out", str(out))
            assert result.exit_code == 0, result.output
            assert f"{reference} opened by {name}" in result.output and canaries[reference] not in result.output
            content = out.read_bytes()
            assert oct(out.stat().st_mode & 0o777) == "0o600" and canaries[reference].encode() in content
            assert police.fingerprint in verify_original(content, police)
        opened = [(actor, detail) for action, actor, detail in _events(home, reference) if action == "message.opened"]
        assert [actor for actor, _ in opened] == ["director", "ana", "dan"]
        director = opened[0][1]
        assert director["ground"] == "the director reads every message that is not embargoed"
        assert opened[1][1]["ground"] == "routed to ana (rule police-analyst: police files)"
        assert opened[2][1]["ground"] == "the deputy reads every message that is not embargoed"
        assert "act: message.open\n" in director["statement"] and f"reference: {reference}\n" in director["statement"]
        check = short_home(module_tmp, "pgc")
        gpg(check, "--import", data=people["director"].public)
        (check / "statement").write_text(director["statement"])
        (check / "statement.asc").write_text(director["signature"])
        gpg(check, "--verify", str(check / "statement.asc"), str(check / "statement"))


def test_standard_output_when_it_is_not_a_terminal(rig):
    """Without --out the message goes to standard output when that is a pipe."""
    home, _police, people, canaries = rig
    reference = canaries["signed"]
    result = subprocess.run([sys.executable, "-m", "hub", "messages", "open", reference, "--signer-home",
                             str(people["director"].home), "--home", str(home.settings.home)], capture_output=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert canaries[reference].encode() in result.stdout and result.stdout.startswith(b"From: ")


def test_never_to_a_terminal(rig):
    """Standard output a terminal and no --out: refused before anything is opened or recorded."""
    home, _police, people, canaries = rig
    reference = canaries["signed"]
    before = len(_events(home, reference))
    primary, secondary = pty.openpty()
    try:
        result = subprocess.run([sys.executable, "-m", "hub", "messages", "open", reference, "--signer-home",
                                 str(people["director"].home), "--home", str(home.settings.home)],
                                stdout=secondary, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(secondary)
        os.close(primary)
    assert result.returncode == 2 and b"not written to a terminal" in result.stderr and b"--out" in result.stderr
    assert len(_events(home, reference)) == before


def test_a_member_it_was_not_routed_to_is_refused_and_recorded(rig, module_tmp):
    """bob, an analyst no rule routes police messages to, is refused with the reason; nothing is written; the
    attempt is recorded under his name."""
    home, _police, people, canaries = rig
    reference = canaries["signed"]
    out = module_tmp / f"bob-{reference}.eml"
    result = run(home, "messages", "open", reference, "--signer-home", str(people["bob"].home), "--out", str(out))
    assert result.exit_code == 2 and f"{reference} was not routed to bob (analyst)" in result.output
    assert "The attempt was recorded" in result.output and canaries[reference] not in result.output
    assert not out.exists()
    refused = [(actor, d["act"]) for action, actor, d in _events(home, reference) if action == "access.refused"]
    assert ("bob", "message.open") in refused


def test_a_key_no_member_holds_is_refused_and_recorded(rig, module_tmp):
    """A GnuPG home with no registered member's key: refused, recorded as an unknown key holder."""
    home, _police, _people, canaries = rig
    reference = canaries["signed"]
    stranger = make_key(module_tmp, "stranger@ocam.test")
    result = run(home, "messages", "open", reference, "--signer-home", str(stranger.home))
    assert result.exit_code == 2 and "holds no registered member's secret key" in result.output
    assert canaries[reference] not in result.output
    refused = [(actor, d["why"]) for action, actor, d in _events(home, reference) if action == "access.refused"]
    assert any(actor == "unknown key holder" and stranger.fingerprint in why for actor, why in refused)


def test_an_embargoed_item_is_opened_only_with_embargo_open(rig, module_tmp):
    """Even the director does not read an embargoed item through `messages open`: it is sealed to its holders."""
    home, _police, people, canaries = rig
    reference = canaries["embargoed"]
    result = run(home, "messages", "open", reference, "--signer-home", str(people["director"].home))
    assert result.exit_code == 2 and "passerelle embargo open" in result.output
    assert canaries[reference] not in result.output
    assert ("access.refused", "director") in [(a, actor) for a, actor, _ in _events(home, reference)]
