"""Evaluations: exactly the recipients of law Art. 10 with their basis; failed checks stop the send; one
encrypted copy per recipient, readable by it alone."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import pytest
from click.testing import CliRunner

from gateway.capture import CaptureRelay
from hub.cli.main import main
from hub.evaluations.policy import Policy, PolicyError
from hub.retention.dates import years_after
from tests.hub.rig import make_home, partner, reference_in
from tests.support.hubrig import RunningHub
from tests.support.keys import gpg as run_gpg
from tests.support.keys import make_key, revoke
from tests.support import ocam

# name, type, clearance, extra options
RECIPIENTS = [
    ("nsc-chair", "nsc-member", "TOP-SECRET", []),
    ("crisis-centre", "crisis-centre", "SECRET", []),
    ("fed-prosecutor", "federal-prosecutor", "TOP-SECRET", []),
    ("college-terror", "college-pg-terrorism", "SECRET", []),
    ("min-interior", "minister", "SECRET", ["--oversees", "police"]),
    ("min-justice", "minister", "SECRET", ["--oversees", "intelligence"]),
    ("sec-authority", "security-authority", "TOP-SECRET", []),
    ("port-authority", "public-authority", "CONFIDENTIAL", ["--basis", "port security (Art. 10 §1 f))"]),
]


def run(home, *args):
    return CliRunner().invoke(main, ocam.signed([*args, "--home", str(home.settings.home)]))


@pytest.fixture(scope="module")
def rig(module_tmp):
    home = make_home(module_tmp)
    keys = {"police-fed": partner(module_tmp, "police"), "vsse": partner(module_tmp, "vsse")}
    home.register(keys["police-fed"], "police-fed", "police")
    home.register(keys["vsse"], "vsse", "intelligence")
    for name, type_, clearance, extra in RECIPIENTS:
        keys[name] = make_key(module_tmp, f"{name}@gov.test", name=name)
        path = module_tmp / f"{name}.asc"
        path.write_bytes(keys[name].public)
        result = run(home, "recipient", "add", name, "--type", type_, "--email", keys[name].email, "--key", str(path),
                     "--clearance", clearance, *extra)
        assert result.exit_code == 0, result.output
    body = module_tmp / "evaluation.txt"
    body.write_text("Menace évaluée")
    return home, keys, body


def _preview(home, body, *args, classification="SECRET"):
    return run(home, "send", "evaluation", "--threat-level", "3", "--urgency", "URGENT", "--classification",
               classification, "--subject", "Évaluation", "--body", str(body), "--preview", *args)


def _lines(output: str) -> dict[str, str]:
    return {line.split()[0]: line for line in output.splitlines() if line.startswith("  ")}


@pytest.mark.parametrize("kind, origin, expected", [
    ("strategic", "own", {"nsc-chair": "§1 a)", "police-fed": "§1 b)", "vsse": "§1 b)", "crisis-centre": "§1 d)",
                          "fed-prosecutor": "§1 e)", "college-terror": "§1 e)"}),
    ("strategic", "government:min-justice", {"nsc-chair": "§1 a)", "police-fed": "§1 b)", "vsse": "§1 b)",
                                             "min-justice": "§1 c)", "crisis-centre": "§1 d)",
                                             "fed-prosecutor": "§1 e)", "college-terror": "§1 e)"}),
    ("punctual", "own", {"nsc-chair": "§2 (§1 a))", "police-fed": "§2 (§1 b))", "vsse": "§2 (§1 b))",
                         "crisis-centre": "§2 (§1 d))", "fed-prosecutor": "§2 (§1 e))",
                         "college-terror": "§2 (§1 e))", "sec-authority": "§2 (law 11.12.1998"}),
    ("punctual", "partner:police-fed", {"police-fed": "§3 (requesting service)", "min-interior": "§3 (its minister)",
                                        "nsc-chair": "§3 (§1 a))", "vsse": "§3 (§1 b))",
                                        "crisis-centre": "§3 (§1 d))", "fed-prosecutor": "§3 (§1 e))",
                                        "college-terror": "§3 (§1 e))", "sec-authority": "§3 (law 11.12.1998"}),
])
def test_distribution_is_exactly_article_10(rig, kind, origin, expected):
    """For each kind and origin: exactly the recipients of Art. 10, each with its basis; nobody else."""
    home, keys, body = rig
    result = _preview(home, body, "--kind", kind, "--origin", origin)
    assert result.exit_code == 0, result.output
    lines = _lines(result.output)
    assert set(lines) == set(expected)
    for name, basis in expected.items():
        assert f"Art. 10 {basis}" in lines[name], lines[name]
    assert "3 GRAVE" in result.output


def test_punctual_evaluation_for_the_government_has_no_rule(rig):
    home, keys, body = rig
    result = _preview(home, body, "--kind", "punctual", "--origin", "government:min-justice")
    assert result.exit_code == 2 and "no rule" in result.output


def test_clearance_below_classification_stops_the_send_until_excluded_with_a_reason(rig):
    """TOP SECRET: the SECRET-cleared recipients stop the send, by name; excluding them is recorded."""
    home, keys, body = rig
    args = ["--kind", "strategic", "--origin", "own"]
    stopped = run(home, "send", "evaluation", *args, "--threat-level", "2", "--urgency", "ROUTINE",
                  "--classification", "TOP-SECRET", "--subject", "S", "--body", str(body))
    assert stopped.exit_code == 2
    for name in ("crisis-centre", "college-terror", "police-fed", "vsse"):  # partners are registered SECRET
        assert f"{name}: clearance too low" in stopped.output
    assert "nsc-chair: clearance" not in stopped.output


def test_excluded_recipients_are_recorded_and_why_answers(rig):
    home, keys, body = rig
    result = run(home, "send", "evaluation", "--kind", "strategic", "--origin", "own", "--threat-level", "4",
                 "--urgency", "FLASH", "--classification", "SECRET", "--subject", "S", "--body", str(body),
                 "--exclude", "college-terror", "--reason", "on leave, deputy informed by phone")
    assert result.exit_code == 0, result.output
    reference = reference_in(result.output)
    why = run(home, "messages", "why", reference, "college-terror").output
    assert "excluded by director" in why and "on leave, deputy informed by phone" in why and "Art. 10 §1 e)" in why
    assert "under Art. 10 §1 a)" in run(home, "messages", "why", reference, "nsc-chair").output
    assert "does not name it" in run(home, "messages", "why", reference, "min-interior").output


def test_an_analyst_sends_but_only_the_director_or_the_deputy_adds_or_excludes(rig):
    """The analyst's evaluation goes out as the analyst's signed act; the same with --exclude or --add-recipient is
    refused (outside the analyst's role, law Art. 9 §3 5°) and recorded, nothing sent."""
    home, _keys, body = rig
    analyst = home.member(ocam.person("analyst"))
    send = ["send", "evaluation", "--kind", "strategic", "--origin", "own", "--threat-level", "2", "--urgency",
            "ROUTINE", "--classification", "SECRET", "--subject", "S", "--body", str(body)]
    sent = CliRunner().invoke(main, analyst.signs(*send, "--home", str(home.settings.home)))
    assert sent.exit_code == 0, sent.output
    shown = json.loads(run(home, "messages", "show", reference_in(sent.output), "--json").output)
    created = next(e for e in shown["audit"] if e["action"] == "evaluation.created")
    assert created["actor"] == "analyst" and "act: evaluation.send\n" in created["detail"]["statement"]
    assert "recipient: nsc-chair\n" in created["detail"]["statement"]
    for extra, act in ((["--exclude", "college-terror", "--reason", "on leave"], "evaluation.exclude"),
                       (["--add-recipient", "min-interior", "--basis", "asked"], "evaluation.add-recipient")):
        refused = CliRunner().invoke(main, analyst.signs(*send, *extra, "--home", str(home.settings.home)))
        assert refused.exit_code == 2 and f"{act} is not an act of the analyst" in refused.output, refused.output
        listed = json.loads(run(home, "audit", "list", "--action", "access.refused", "--actor", "analyst",
                                "--json").output)
        assert listed[-1]["detail"]["act"] == act
    created = json.loads(run(home, "audit", "list", "--action", "evaluation.created", "--actor", "analyst",
                             "--json").output)
    assert len(created) == 1


def test_revoked_key_stops_the_send_and_names_the_recipient(short_tmp):
    home = make_home(short_tmp)
    home.register(partner(short_tmp, "police"), "police-fed", "police")
    body = short_tmp / "b.txt"
    body.write_text("x")
    for name, type_ in (("crisis-centre", "crisis-centre"), ("fed-prosecutor", "federal-prosecutor")):
        key = make_key(short_tmp, f"{name}@gov.test", name=name)
        (short_tmp / f"{name}.asc").write_bytes(key.public)
        assert run(home, "recipient", "add", name, "--type", type_, "--email", key.email, "--key",
                   str(short_tmp / f"{name}.asc"), "--clearance", "SECRET").exit_code == 0
    victim = make_key(short_tmp, "victim@gov.test", name="victim")
    path = short_tmp / "victim.asc"
    path.write_bytes(victim.public)
    assert run(home, "recipient", "add", "victim", "--type", "nsc-member", "--email", victim.email, "--key",
               str(path), "--clearance", "TOP-SECRET").exit_code == 0
    home.gpg.import_keys(revoke(victim))
    result = run(home, "send", "evaluation", "--kind", "strategic", "--origin", "own", "--threat-level", "1",
                 "--urgency", "ROUTINE", "--classification", "RESTRICTED", "--subject", "S", "--body", str(body))
    assert result.exit_code == 2 and "victim: key revoked" in result.output


def test_empty_group_stops_the_send(short_tmp):
    """No security authority registered: a punctual evaluation cannot go; the group is named."""
    home = make_home(short_tmp)
    key = partner(short_tmp, "police")
    home.register(key, "police-fed", "police")
    body = short_tmp / "b.txt"
    body.write_text("x")
    result = _preview(home, body, "--kind", "punctual", "--origin", "own")
    assert result.exit_code == 2 and "has no registered member" in result.output


def test_each_copy_is_encrypted_to_its_recipient_alone(rig, module_tmp):
    """Through the relay: one copy per recipient, only its own key opens it, the body never in clear."""
    home, keys, body = rig
    canary = f"CANARY{uuid.uuid4().hex}"
    text = module_tmp / "canary.txt"
    text.write_text(f"Analyse {canary}")
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        result = run(home, "send", "evaluation", "--kind", "punctual", "--origin", "partner:police-fed",
                     "--threat-level", "3", "--urgency", "URGENT", "--classification", "CONFIDENTIAL",
                     "--subject", "S", "--body", str(text))
        assert result.exit_code == 0, result.output
        reference = reference_in(result.output)
        hub.hub.transport.notify("outbound")
        for _ in range(300):  # earlier tests' evaluations, queued while no hub ran, go out too
            copies = [c for c in relay.messages if c.message["X-Passerelle-Reference"] == reference]
            if len(copies) >= 8:
                break
            relay.wait_for(len(relay.messages) + 1, timeout=0.1)
    assert sorted(c.rcpt_tos[0] for c in copies) == sorted(
        keys[n].email for n in ("police-fed", "min-interior", "nsc-chair", "vsse", "crisis-centre",
                                "fed-prosecutor", "college-terror", "sec-authority"))
    by_rcpt = {c.rcpt_tos[0]: c.data for c in copies}
    for data in by_rcpt.values():
        assert canary.encode() not in data
    assert canary.encode() in run_gpg(keys["vsse"].home, "--decrypt", "--skip-verify", data=by_rcpt[keys["vsse"].email])
    with pytest.raises(RuntimeError):
        run_gpg(keys["vsse"].home, "--decrypt", data=by_rcpt[keys["police-fed"].email])
    # The evaluation and its copies are one retention item, dated from its creation (law Art. 10/2).
    held = {r["reference"]: r for r in json.loads(run(home, "retention", "list", "--json").output)}
    created = datetime.fromisoformat(held[reference]["intake_at"])
    assert held[reference]["end_at"] == years_after(created, 50).isoformat()


def test_a_broken_policy_file_is_refused_at_start_up(tmp_path):
    bad = tmp_path / "policy.toml"
    bad.write_text('[[rule]]\nkind = "strategic"\norigin = "own"\n[rule.groups]\nfriends-of-ocam = "none"\n')
    with pytest.raises(PolicyError, match="unknown or no groups"):
        Policy.load(bad)
    assert len(Policy.load().rules) == 4


def test_punctual_evaluation_answers_the_services_request(short_tmp):
    """Art. 10 §3: the evaluation police asked for closes police's request to OCAM, on time."""
    from tests.hub.rig import signed

    home = make_home(short_tmp)
    key = partner(short_tmp, "police")
    home.register(key, "police-fed", "police")
    names = [("min-interior", "minister", ["--oversees", "police"]), ("nsc", "nsc-member", []),
             ("crisis", "crisis-centre", []), ("fedpros", "federal-prosecutor", []),
             ("secauth", "security-authority", [])]
    for name, type_, extra in names:
        k = make_key(short_tmp, f"{name}@gov.test", name=name)
        (short_tmp / f"{name}.asc").write_bytes(k.public)
        assert run(home, "recipient", "add", name, "--type", type_, "--email", k.email, "--key",
                   str(short_tmp / f"{name}.asc"), "--clearance", "SECRET", *extra).exit_code == 0
    body = short_tmp / "b.txt"
    body.write_text("Évaluation ponctuelle")
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        code, text = hub.send(signed(key, keyword_lines={"Message-Kind": "request", "Urgency": "URGENT"}))
        asked = reference_in(text)
        relay.wait_for(1, timeout=20)
    args = ["send", "evaluation", "--kind", "punctual", "--origin", "partner:police-fed", "--threat-level", "2",
            "--urgency", "URGENT", "--classification", "SECRET", "--subject", "S", "--body", str(body)]
    wrong = run(home, *args, "--request", "PSR-2026-999999")
    assert wrong.exit_code == 2 and "not a request of police-fed" in wrong.output
    result = run(home, *args, "--request", asked)
    assert result.exit_code == 0, result.output
    db = home.db()
    with db.reader() as uow:
        deadline = uow.deadlines.for_message(uow.messages.by_reference(asked).id)
    db.dispose()
    assert deadline.state == "answered" and deadline.on_time is True


def test_delivery_delay_and_the_recipients_acknowledgement(short_tmp):
    """Each copy has the delivery delay of its urgency and is sent on time; a recipient's signed MDN is
    recorded as its acknowledgement; a copy still undelivered past its delay raises an alert."""
    from datetime import timedelta

    from crypto import StorageKey
    from hub.clock import FrozenClock, SystemClock
    from hub.deadlines.scheduler import Scheduler
    from hub.transport.embedded import EmbeddedTransport
    from tests.hub.outbound.test_requests import _mdn

    home = make_home(short_tmp)
    home.register(partner(short_tmp, "police"), "police-fed", "police")
    keys = {}
    for name, type_ in (("crisis", "crisis-centre"), ("fedpros", "federal-prosecutor"), ("nsc", "nsc-member")):
        keys[name] = make_key(short_tmp, f"{name}@gov.test", name=name)
        (short_tmp / f"{name}.asc").write_bytes(keys[name].public)
        assert run(home, "recipient", "add", name, "--type", type_, "--email", keys[name].email, "--key",
                   str(short_tmp / f"{name}.asc"), "--clearance", "SECRET").exit_code == 0
    body = short_tmp / "b.txt"
    body.write_text("x")
    args = ["send", "evaluation", "--kind", "strategic", "--origin", "own", "--threat-level", "2",
            "--urgency", "FLASH", "--classification", "SECRET", "--subject", "S", "--body", str(body)]
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        reference = reference_in(run(home, *args).output)
        hub.hub.transport.notify("outbound")
        copies = relay.wait_for(4, timeout=20)
        to_nsc = next(c for c in copies if c.rcpt_tos == (keys["nsc"].email,))
        code, text = hub.send(_mdn(keys["nsc"], to_nsc.message["Message-ID"]), mail_from=keys["nsc"].email)
        assert code == 250 and reference in text, text
        for _ in range(100):  # the relay's 250 is recorded just after it has the copy
            if run(home, "messages", "show", reference, "--json").output.count('"state": "sent"') == 4:
                break
            relay.wait_for(10, timeout=0.05)
    late_ref = reference_in(run(home, *args).output)  # queued while no hub runs: it will be late
    db = home.db()
    with db.reader() as uow:
        evaluation = uow.messages.by_reference(reference)
        sent = uow.outbound.for_message(evaluation.id)
    # Each copy's delay runs from the evaluation's sending (one time for all its copies), not from the moment its
    # own encryption ended and it was queued (under load, a second or more later for the last copy).
    due = evaluation.received_at.replace(microsecond=0) + timedelta(hours=24)
    assert len(sent) == 4 and all(o.on_time and o.due_at == due for o in sent), \
        [(o.state, o.on_time, o.due_at, o.created_at) for o in sent]
    assert [o.acknowledged_at is not None for o in sent].count(True) == 1
    clock = FrozenClock(SystemClock().now() + timedelta(hours=25))
    scheduler = Scheduler(settings=home.settings, db=db, gpg=home.gpg,
                          storage_key=StorageKey.load(home.settings.storage_key_path), clock=clock,
                          transport=EmbeddedTransport(db, clock))
    assert scheduler.tick() == 4 and scheduler.tick() == 0
    db.dispose()
    shown = run(home, "messages", "show", late_ref, "--json").output
    assert shown.count("alert.delivery_overdue") == 4


def test_evaluation_delivery_retries_a_deferral_and_alerts_on_a_refusal(short_tmp):
    """Over real SMTP: the relay defers, then accepts one copy; refuses another: retried, alerted, reported."""
    import json

    home = make_home(short_tmp)
    home.register(partner(short_tmp, "police"), "police-fed", "police")
    home.settings.delivery.workers = 1
    for name, type_ in (("crisis", "crisis-centre"), ("fedpros", "federal-prosecutor"), ("nsc", "nsc-member")):
        k = make_key(short_tmp, f"{name}@gov.test", name=name)
        (short_tmp / f"{name}.asc").write_bytes(k.public)
        assert run(home, "recipient", "add", name, "--type", type_, "--email", k.email, "--key",
                   str(short_tmp / f"{name}.asc"), "--clearance", "SECRET").exit_code == 0
    body = short_tmp / "b.txt"
    body.write_text("x")
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        relay.refuse(1)
        relay.defer(0)
        reference = reference_in(run(home, "send", "evaluation", "--kind", "strategic", "--origin", "own",
                                     "--threat-level", "1", "--urgency", "ROUTINE", "--classification", "SECRET",
                                     "--subject", "S", "--body", str(body)).output)
        hub.hub.transport.notify("outbound")
        relay.wait_for(1, timeout=20)
        relay.defer(2)
        shown = {}
        for _ in range(200):
            shown = json.loads(run(home, "messages", "show", reference, "--json").output)
            if all(d["state"] != "pending" for d in shown["deliveries"]):
                break
            relay.wait_for(10, timeout=0.1)
    states = sorted(d["state"] for d in shown["deliveries"])
    assert states == ["failed", "sent", "sent", "sent"]
    assert max(d["attempts"] for d in shown["deliveries"]) >= 2  # a deferred copy was retried
    actions = [e["action"] for e in shown["audit"]]
    assert actions.count("alert.delivery_failed") == 1 and actions.count("evaluation.deferred") >= 1


def test_additions_go_only_to_who_may_receive_evaluations_each_once_on_the_directors_signed_basis(rig, module_tmp):
    """--add-recipient: OCAM's duty desk (ocam-duty) receives no evaluation, a recipient already in the distribution
    or added twice gets it once — each refused with a sentence naming it and law Art. 10, nothing sent; an addition
    that holds goes out on the director's signed act, its basis in the signed statement."""
    home, keys, body = rig
    desk = make_key(module_tmp, "duty@ocam.test", name="Duty desk")
    (module_tmp / "duty.asc").write_bytes(desk.public)
    assert run(home, "recipient", "add", "duty-desk", "--type", "ocam-duty", "--email", desk.email, "--key",
               str(module_tmp / "duty.asc"), "--clearance", "SECRET").exit_code == 0
    send = ["send", "evaluation", "--kind", "strategic", "--origin", "own", "--threat-level", "2", "--urgency",
            "ROUTINE", "--classification", "SECRET", "--subject", "S", "--body", str(body)]
    before = len(json.loads(run(home, "audit", "list", "--action", "evaluation.created", "--json").output))
    for extra, sentence in (
            (["--add-recipient", "duty-desk", "--basis", "keep the desk informed"],
             "--add-recipient duty-desk: duty-desk is of type ocam-duty, which receives no evaluation; an "
             "evaluation goes to those law Art. 10 names, and to nobody else"),
            (["--add-recipient", "nsc-chair", "--basis", "again"],
             "--add-recipient nsc-chair: nsc-chair receives this evaluation already (Art. 10 §1 a)"),
            (["--add-recipient", "min-interior", "--basis", "asked", "--add-recipient", "min-interior", "--basis",
              "asked twice"],
             "--add-recipient min-interior: min-interior receives this evaluation already (added beyond the "
             "policy: asked); each recipient gets it once (law Art. 10)")):
        for preview in ([], ["--preview"]):
            refused = run(home, *send, *extra, *preview)
            assert refused.exit_code == 2 and sentence in " ".join(refused.output.split()), refused.output
    assert len(json.loads(run(home, "audit", "list", "--action", "evaluation.created", "--json").output)) == before
    sent = run(home, *send, "--add-recipient", "min-interior", "--basis", "the minister asked (Art. 10 §2)")
    assert sent.exit_code == 0, sent.output
    reference = reference_in(sent.output)
    shown = json.loads(run(home, "messages", "show", reference, "--json").output)
    created = next(e for e in shown["audit"] if e["action"] == "evaluation.created")
    assert created["actor"] == "director"
    assert "add-recipient: min-interior: the minister asked (Art. 10 §2)\n" in created["detail"]["statement"]
    assert "added beyond the policy: the minister asked" in run(home, "messages", "why", reference,
                                                              "min-interior").output
