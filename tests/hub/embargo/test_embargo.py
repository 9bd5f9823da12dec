"""Embargo (law Art. 11-12, AR Art. 15): sealed to the designated holders at intake, opened only by them,
holder-list changes and joint decisions only with the right signatures, and the signed oversight export."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from crypto import DecryptionFailed
from gateway.capture import CaptureRelay
from hub.cli.main import main
from store import Database
from tests.hub.rig import Receipt, encrypted, make_home, new_message_id, partner, reference_in, signed
from tests.hub.evaluations.test_evaluations import RECIPIENTS
from tests.support.hubrig import RunningHub
from tests.support.keys import gpg as run_gpg
from tests.support.keys import make_key, sign_detached
from tests.support import ocam


def run(home, *args):
    return CliRunner().invoke(main, ocam.signed([*args, "--home", str(home.settings.home)]))


def ok(home, *args):
    result = run(home, *args)
    assert result.exit_code == 0, result.output
    return result.output


def _member(home, tmp: Path, name: str, role: str):
    """A member registered under the director's signature; the director is the one the hub was made with."""
    if role == "director":
        return ocam.director().key
    key = make_key(tmp, f"{name}@ocam.test", name=name.title())
    path = tmp / f"{name}.asc"
    path.write_bytes(key.public)
    ok(home, "member", "add", name, "--role", role, "--email", key.email, "--key", str(path),
       "--clearance", "TOP-SECRET")
    return key


@pytest.fixture(scope="module")
def rig(module_tmp):
    home = make_home(module_tmp)
    keys = {"police": partner(module_tmp, "police"), "vsse": partner(module_tmp, "vsse"),
            "prosecutor": partner(module_tmp, "prosecutor")}
    home.register(keys["police"], "police-fed", "police")
    home.register(keys["vsse"], "vsse", "intelligence")
    home.register(keys["prosecutor"], "fed-prosecutor-office", "federal-prosecutor")
    keys["vsse-head"] = make_key(module_tmp, "head@vsse.test", name="Head Vsse")
    (module_tmp / "vsse-head.asc").write_bytes(keys["vsse-head"].public)
    ok(home, "partner", "set", "vsse", "--head-key", str(module_tmp / "vsse-head.asc"),
       "--head-email", "head@vsse.test")
    for name, type_, clearance, extra in RECIPIENTS:
        keys[name] = make_key(module_tmp, f"{name}@gov.test", name=name)
        (module_tmp / f"{name}.asc").write_bytes(keys[name].public)
        ok(home, "recipient", "add", name, "--type", type_, "--email", keys[name].email,
           "--key", str(module_tmp / f"{name}.asc"), "--clearance", clearance, *extra)
    members = {"director": _member(home, module_tmp, "director", "director"),
               "ana": _member(home, module_tmp, "ana", "analyst"),
               "bob": _member(home, module_tmp, "bob", "analyst")}
    for kind in ("judicial", "foreign"):
        ok(home, "holders", "add", "--kind", kind, "ana", "--signer-home", str(members["director"].home))
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        yield home, keys, members, relay, hub


def _receipt(relay, reference: str, hub_gpg) -> Receipt:
    for _ in range(200):
        for captured in relay.messages:
            if captured.message.get("X-Passerelle-Reference") == reference:
                return Receipt.read(captured.data, hub_gpg)
        relay.wait_for(len(relay.messages) + 1, timeout=0.1)
    raise AssertionError(f"no receipt for {reference}")


def _embargoed(rig, kind: str = "judicial", sender: str = "police", *, encrypt: bool = False) -> tuple[str, str]:
    home, keys, _members, _relay, hub = rig
    canary = f"EMBARGO{uuid.uuid4().hex}"
    lines = {"Embargo": kind, "Message-Kind": "request", "Urgency": "FLASH"}
    if encrypt:
        raw = encrypted(keys[sender], home.gpg.export_public(home.fingerprint), message_id=new_message_id(),
                        body=f"Source humaine {canary}", keyword_lines=lines)
    else:
        raw = signed(keys[sender], message_id=new_message_id(), body=f"Source humaine {canary}", keyword_lines=lines)
    code, text = hub.send(raw)
    assert code == 250, text
    return reference_in(text), canary


def _item(home, reference: str):
    db = Database(home.settings.database_url)
    with db.reader() as uow:
        message = uow.messages.by_reference(reference)
        item = uow.embargo.for_message(message.id)
        events = [(e.action, e.actor) for e in uow.audit.for_message(reference)]
        result = message.raw_blob_id, bytes(item.ciphertext), item.holder_version, list(item.holders), events
    db.dispose()
    return result


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.parametrize("encrypt", [False, True], ids=["signed", "signed+encrypted"])
def test_sealed_to_holders_only_and_nothing_readable_under_the_home(rig, module_tmp, encrypt):
    """Holders open it; a member outside the list and the hub's own key cannot; no plaintext under the home."""
    home, keys, members, relay, hub = rig
    reference, canary = _embargoed(rig, encrypt=encrypt)
    receipt = _receipt(relay, reference, home.gpg)
    assert receipt.fields["X-Passerelle-Embargo"] == "judicial; sealed-to=2; deadline=none"
    assert receipt.due_at() is None
    assert "Content sealed to 2 designated holder(s)" in receipt.text
    blob, ciphertext, version, holders, events = _item(home, reference)
    assert blob is None and version == 1 and {h["name"] for h in holders} == {"director", "ana"}
    assert ("embargo.sealed", "hub") in events
    with pytest.raises(DecryptionFailed):
        home.gpg.decrypt(ciphertext)
    assert _files_containing(home.settings.home, canary.encode()) == []

    out = module_tmp / f"opened-{reference}.eml"
    ok(home, "embargo", "open", reference, "--signer-home", str(members["ana"].home), "--out", str(out))
    assert canary.encode() in out.read_bytes() and oct(out.stat().st_mode & 0o777) == "0o600"
    if not encrypt:  # what the holder gets is the message as received: its signature still verifies
        assert out.read_bytes().startswith(b"From:") or b"multipart/signed" in out.read_bytes()
    refused = run(home, "embargo", "open", reference, "--signer-home", str(members["bob"].home))
    assert refused.exit_code != 0 and "no key in" in refused.output and canary not in refused.output
    events = _item(home, reference)[4]
    assert ("embargo.opened", "ana") in events and ("embargo.open_refused", "bob") in events


def test_empty_holder_list_answers_4xx_and_raises_an_alert(short_tmp):
    """No holder designated yet: the message is refused with a 4xx (retried, not lost) and an alert raised."""
    home = make_home(short_tmp)
    key = partner(short_tmp, "police")
    home.register(key, "police-fed", "police")
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        code, text = hub.send(signed(key, message_id=new_message_id(), keyword_lines={"Embargo": "judicial"}))
    assert code == 451 and "4.7.0" in text and "No holders" in text, text
    db = Database(home.settings.database_url)
    with db.reader() as uow:
        assert uow.messages.count() == 0
        assert [e.action for e in uow.audit.recent(action="alert.embargo_no_holders")] == ["alert.embargo_no_holders"]
    db.dispose()


def test_holder_change_needs_the_directors_valid_signature(rig, module_tmp):
    home, _keys, members, _relay, _hub = rig
    before = json.loads(ok(home, "holders", "list", "--history", "--json"))
    # Signed, but by an analyst, not the director: outside the analyst's role, refused and recorded.
    result = run(home, "holders", "add", "--kind", "judicial", "bob", "--signer-home", str(members["bob"].home))
    assert result.exit_code == 2 and "holders.change is not an act of the analyst" in result.output, result.output
    refused = json.loads(ok(home, "audit", "list", "--action", "access.refused", "--actor", "bob", "--json"))
    assert refused[-1]["detail"]["act"] == "holders.change"
    # Signed by the director, then altered: another holder slipped into the statement.
    statement = module_tmp / "change.txt"
    ok(home, "holders", "add", "--kind", "judicial", "bob", "--statement-out", str(statement))
    signature = module_tmp / "change.txt.asc"
    signature.write_bytes(sign_detached(members["director"], statement.read_bytes()))
    tampered = module_tmp / "tampered.txt"
    tampered.write_text(statement.read_text() + "holder: mallory 0123456789ABCDEF0123456789ABCDEF01234567\n")
    result = run(home, "holders", "apply", "--statement", str(tampered), "--signature", str(signature))
    assert result.exit_code != 0 and "not valid" in result.output, result.output
    assert json.loads(ok(home, "holders", "list", "--history", "--json")) == before


def test_new_holder_sees_old_items_only_after_a_reseal(rig, module_tmp):
    home, _keys, members, _relay, _hub = rig
    reference, canary = _embargoed(rig)
    ok(home, "holders", "add", "--kind", "judicial", "bob", "--signer-home", str(members["director"].home))
    try:
        refused = run(home, "embargo", "open", reference, "--signer-home", str(members["bob"].home))
        assert refused.exit_code != 0 and "not to bob's key" in refused.output and canary not in refused.output
        result = run(home, "embargo", "reseal", reference, "--signer-home", str(members["bob"].home))
        assert result.exit_code != 0  # bob cannot open it, so he cannot reseal it
        ok(home, "embargo", "reseal", reference, "--signer-home", str(members["ana"].home))
        out = module_tmp / f"bob-{reference}.eml"
        ok(home, "embargo", "open", reference, "--signer-home", str(members["bob"].home), "--out", str(out))
        assert canary.encode() in out.read_bytes()
        events = _item(home, reference)[4]
        assert ("embargo.resealed", "ana") in events and ("embargo.opened", "bob") in events
    finally:
        ok(home, "holders", "remove", "--kind", "judicial", "bob", "--signer-home", str(members["director"].home))
    history = json.loads(ok(home, "holders", "list", "--history", "--json"))
    judicial = [v for v in history if v["kind"] == "judicial"]
    assert [v["change"] for v in judicial][-2:] == ["add", "remove"] and judicial[-1]["holders"] == ["ana", "director"]


def _evaluation(home, module_tmp, reference, *extra):
    with_file, without_file = module_tmp / "with.txt", module_tmp / "without.txt"
    secret, plain = f"WITH{uuid.uuid4().hex}", f"WITHOUT{uuid.uuid4().hex}"
    with_file.write_text(f"Évaluation intégrant {secret}")
    without_file.write_text(f"Évaluation modulée {plain}")
    result = run(home, "send", "evaluation", "--kind", "punctual", "--origin", "partner:vsse", "--threat-level", "3",
                 "--urgency", "URGENT", "--classification", "CONFIDENTIAL", "--subject", "S", "--body", str(with_file),
                 "--integrates", reference, "--without", str(without_file), *extra)
    return result, secret, plain


def test_a_decision_with_one_signature_is_not_recorded_and_allows_nothing(rig, module_tmp):
    home, keys, members, _relay, _hub = rig
    reference, _ = _embargoed(rig, "foreign", "vsse")
    decide = ("embargo", "decide", reference, "--integrate", "yes", "--consent", "no")
    result = run(home, *decide, "--signer-home", str(members["director"].home))
    assert result.exit_code == 3 and "NOT recorded" in result.output
    result, _, _ = _evaluation(home, module_tmp, reference)
    assert result.exit_code != 0 and "no joint decision is recorded" in result.output
    # A second signature by someone other than the providing service's head is refused.
    statement = module_tmp / "decision.txt"
    ok(home, "embargo", "statement", reference, "--integrate", "yes", "--consent", "no", "--out", str(statement))
    wrong = module_tmp / "wrong.asc"
    wrong.write_bytes(sign_detached(keys["police"], statement.read_bytes()))
    result = run(home, *decide, "--second-signature", str(wrong))
    assert result.exit_code != 0 and "head of the providing service" in result.output


def test_the_head_of_service_signs_a_foreign_decision_and_not_its_contact_point(rig, module_tmp):
    """Law Art. 12 al. 3: the director decides with the head of the providing service, registered as its own
    signer (`partner set vsse --head-key`). The contact point's signature is refused, by detached signature and by
    signed message alike; the head's records the decision."""
    home, keys, members, _relay, hub = rig
    reference, _ = _embargoed(rig, "foreign", "vsse")
    args = ("--integrate", "yes", "--consent", "yes", "--recipients", "police-fed")
    statement = module_tmp / f"head-{reference}.txt"
    ok(home, "embargo", "statement", reference, *args, "--out", str(statement))
    decide = ("embargo", "decide", reference, *args, "--signer-home", str(members["director"].home))
    by_contact = module_tmp / f"contact-{reference}.asc"
    by_contact.write_bytes(sign_detached(keys["vsse"], statement.read_bytes()))
    refused = run(home, *decide, "--second-signature", str(by_contact))
    assert refused.exit_code == 2 and "not by the head of the providing service head of vsse" in refused.output
    text = f"Accord.\n\n{statement.read_text()}\n-- \nVSSE\n"
    code, reply = hub.send(signed(keys["vsse"], message_id=new_message_id(), body=text))
    assert code == 550 and "head of the providing service" in reply, reply
    row = next(r for r in json.loads(ok(home, "embargo", "list", "--json")) if r["reference"] == reference)
    assert row["decision"] is None
    by_head = module_tmp / f"head-{reference}.asc"
    by_head.write_bytes(sign_detached(keys["vsse-head"], statement.read_bytes()))
    assert "joint decision recorded" in ok(home, *decide, "--second-signature", str(by_head))
    row = next(r for r in json.loads(ok(home, "embargo", "list", "--json")) if r["reference"] == reference)
    assert row["decision"] == {"integrate": "yes", "consent": "yes", "recipients": ["police-fed"]}
    signed_by = [(e["actor"], e["detail"].get("role")) for e in
                 json.loads(ok(home, "audit", "list", "--ref", reference, "--action", "embargo.decision_signed",
                               "--json"))]
    assert ("head of vsse", "head of the providing service") in signed_by


def test_consent_no_restricts_the_integrated_version_to_the_providing_service(rig, module_tmp):
    """AR Art. 15: without consent, only the service that provided it gets the version with it; the others
    get the version without; a request to give it to anyone else is refused; copies never name the item."""
    home, keys, members, relay, hub = rig
    reference, _ = _embargoed(rig, "foreign", "vsse")
    statement = module_tmp / "decision-no.txt"
    ok(home, "embargo", "statement", reference, "--integrate", "yes", "--consent", "no", "--out", str(statement))
    second = module_tmp / "decision-no.txt.asc"
    second.write_bytes(sign_detached(keys["vsse-head"], statement.read_bytes()))
    ok(home, "embargo", "decide", reference, "--integrate", "yes", "--consent", "no",
       "--signer-home", str(members["director"].home), "--second-signature", str(second))
    refused, _, _ = _evaluation(home, module_tmp, reference, "--integrated-for", "police-fed")
    assert refused.exit_code != 0 and "may not receive" in refused.output and "AR Art. 15" in refused.output
    result, secret, plain = _evaluation(home, module_tmp, reference)
    assert result.exit_code == 0, result.output
    evaluation = reference_in(result.output.splitlines()[-1])
    hub.hub.transport.notify("outbound")
    copies = []
    for _ in range(300):
        copies = [c for c in relay.messages if c.message["X-Passerelle-Reference"] == evaluation]
        if len(copies) >= 8:
            break
        relay.wait_for(len(relay.messages) + 1, timeout=0.1)
    assert len(copies) == 8
    opened = {}
    for c in copies:
        rcpt = c.rcpt_tos[0]
        owner = next(k for k in keys.values() if k.email == rcpt)
        opened[rcpt] = run_gpg(owner.home, "--decrypt", "--skip-verify", data=c.data)
        assert reference.encode() not in c.data and reference.encode() not in opened[rcpt]
    assert secret.encode() in opened[keys["vsse"].email] and plain.encode() not in opened[keys["vsse"].email]
    for rcpt, text in opened.items():
        if rcpt != keys["vsse"].email:
            assert plain.encode() in text and secret.encode() not in text, rcpt
    # The integrated version is not kept where the hub could read it.
    assert _files_containing(home.settings.home, secret.encode()) == []


def test_oversight_export_is_signed_and_verifiable_without_a_home(rig, module_tmp):
    """Every event with its proof, the accesses among them, the holder lists signed by the director; checked
    with the hub's public key and no home; an altered file is refused."""
    home, _keys, members, _relay, _hub = rig
    reference, _ = _embargoed(rig)
    ok(home, "embargo", "open", reference, "--signer-home", str(members["director"].home),
       "--out", str(module_tmp / f"dir-{reference}.eml"))
    out = module_tmp / "oversight.json"
    ok(home, "export", "oversight", "--committee", "R", "--out", str(out))
    report = json.loads(out.read_text())
    assert report["committee"] == "R" and report["log"]["first"] == 0
    assert [e["index"] for e in report["log"]["events"]] == list(range(len(report["log"]["events"])))
    assert {(v["kind"], v["version"]) for v in report["holder_lists"]} >= {("judicial", 1), ("foreign", 1)}
    assert all("BEGIN PGP SIGNATURE" in v["signature"] for v in report["holder_lists"])
    events = {e["index"]: json.loads(e["entry"]) for e in report["log"]["events"]}
    assert any(events[i]["action"] == "embargo.opened" and events[i]["actor"] == "director"
               and events[i]["reference"] == reference for i in report["accesses"])
    csv_text = (module_tmp / "oversight.csv").read_text()
    assert "embargo.opened" in csv_text and reference in csv_text
    hub_key = module_tmp / "HUB.asc"
    ok(home, "audit", "key", "--out", str(hub_key))
    result = CliRunner().invoke(main, ["export", "verify", str(out), str(module_tmp / "oversight.csv"),
                                       "--hub-key", str(hub_key)])
    assert result.exit_code == 0, result.output
    assert "signed by the director director" in result.output and "NOT verified" not in result.output
    alone = CliRunner().invoke(main, ["export", "verify", str(out)])
    assert alone.exit_code == 0 and "self-consistency only" in alone.output and home.fingerprint in alone.output
    later = module_tmp / "later.json"
    ok(home, "export", "oversight", "--committee", "P", "--since", "2999-01-01", "--out", str(later))
    report = json.loads(later.read_text())
    assert report["accesses"] == [] and report["log"]["events"] == [] and len(report["holder_lists"]) >= 2
    assert CliRunner().invoke(main, ["export", "verify", str(later), "--hub-key", str(hub_key)]).exit_code == 0
    out.write_text(out.read_text().replace('"R"', '"P"', 1))
    result = CliRunner().invoke(main, ["export", "verify", str(out), "--hub-key", str(hub_key)])
    assert result.exit_code == 1 and "BAD  the file's signature" in result.output


def test_the_prosecutors_signature_may_arrive_as_a_signed_message(rig, module_tmp):
    """Judicial (law Art. 11 al. 3): the director signs with his key, the Federal Prosecutor by sending the
    statement in a signed message through the gateway; someone else's signed statement is refused at SMTP."""
    home, keys, members, _relay, hub = rig
    reference, _ = _embargoed(rig)
    args = ("--integrate", "protection", "--consent", "yes", "--recipients", "police-fed,crisis-centre")
    assert run(home, "embargo", "decide", reference, *args,
               "--signer-home", str(members["director"].home)).exit_code == 3
    statement = module_tmp / f"judicial-{reference}.txt"
    ok(home, "embargo", "statement", reference, *args, "--out", str(statement))
    text = f"Accord du Procureur fédéral.\n\n{statement.read_text()}\n-- \nParquet fédéral\n"
    code, reply = hub.send(signed(keys["police"], message_id=new_message_id(), body=text))
    assert code == 550 and "decision statement refused" in reply and "Federal Prosecutor" in reply, reply
    row = next(r for r in json.loads(ok(home, "embargo", "list", "--json")) if r["reference"] == reference)
    assert row["decision"] is None and row["pending_decisions"] == 1
    code, reply = hub.send(signed(keys["prosecutor"], message_id=new_message_id(), body=text))
    assert code == 250, reply
    row = next(r for r in json.loads(ok(home, "embargo", "list", "--json")) if r["reference"] == reference)
    assert row["decision"] == {"integrate": "protection", "consent": "yes",
                               "recipients": ["crisis-centre", "police-fed"]}


def test_the_dashboard_shows_sealed_items_lists_and_pending_decisions_as_metadata(rig):
    """Embargo screen (e): items with sender, kind, holder-list version and decision; list versions with who
    signed them; decisions waiting for a signature — never the content."""
    import asyncio

    from textual.widgets import DataTable

    from tui import Dashboard

    home, _keys, members, _relay, _hub = rig
    reference, canary = _embargoed(rig)
    run(home, "embargo", "decide", reference, "--integrate", "no", "--consent", "no",
        "--signer-home", str(members["director"].home))
    db = Database(home.settings.database_url)

    async def show() -> tuple:
        app = Dashboard(db, refresh_seconds=0.2)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)
            await pilot.press("e")
            await pilot.pause(0.4)
            rows = {}
            for table_id in ("#embargo-items", "#holder-lists", "#pending-decisions"):
                table = app.query_one(table_id, DataTable)
                rows[table_id] = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
            labels = [str(c.label) for c in app.query_one("#embargo-items", DataTable).ordered_columns]
            screen = app.export_screenshot()
            await pilot.press("q")
        return rows, screen, labels

    rows, screen, labels = asyncio.run(show())
    db.dispose()
    item = next(dict(zip(labels, r)) for r in rows["#embargo-items"] if r[0] == reference)
    assert (item["kind"], item["from"], item["decision"], item["prosecutor"]) == (
        "judicial", "police-fed", "pending", "UNCONFIRMED")
    assert item["sealed to"].endswith(", 2 holder(s)")
    assert ["judicial", "1", "add", "ana", "director"] in [r[:5] for r in rows["#holder-lists"]]
    assert [reference, "no", "no", "signed", "WAITING"] in [r[:5] for r in rows["#pending-decisions"]]
    assert canary not in screen


def test_a_foreign_decision_waits_for_the_head_of_service_to_be_registered(rig, module_tmp):
    """A service of law Art. 12 whose head is not registered: its contact point's signature records no decision;
    the refusal names the article and the command that registers the head. (Last in the module: the partner it
    registers would join the support services' distribution of the evaluations above.)"""
    home, keys, members, _relay, _hub = rig
    keys["customs"] = partner(module_tmp, "customs")
    home.register(keys["customs"], "customs", "customs")
    reference, _ = _embargoed(rig, "foreign", "customs")
    statement = module_tmp / f"customs-{reference}.txt"
    ok(home, "embargo", "statement", reference, "--integrate", "no", "--consent", "no", "--out", str(statement))
    signature = module_tmp / f"customs-{reference}.asc"
    signature.write_bytes(sign_detached(keys["customs"], statement.read_bytes()))
    refused = run(home, "embargo", "decide", reference, "--integrate", "no", "--consent", "no", "--signer-home",
                  str(members["director"].home), "--second-signature", str(signature))
    said = " ".join(refused.output.split())
    assert refused.exit_code == 2 and "the head of service of customs is not registered" in said, refused.output
    assert "law Art. 12 al. 3" in said and "partner set customs --head-key FILE --head-email ADDRESS" in said
    row = next(r for r in json.loads(ok(home, "embargo", "list", "--json")) if r["reference"] == reference)
    assert row["decision"] is None
