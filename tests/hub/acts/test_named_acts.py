"""Every act of OCAM is the signed act of a named member (law Art. 9 §3 7°), within the member's role (5°): through
the real CLI, each act records the member's name and the statement they signed (gpg verifies it with their key);
without a valid signature it is refused — no --signer-home, a key no member holds, another member's statement, an
altered one, a replayed one, a stale one — and an act outside the role is refused and recorded."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.acts.signed import accept
from hub.cli.main import main
from hub.clock import FrozenClock, SystemClock
from hub.errors import AccessRefused
from store import Database
from tests.hub.rig import make_home, partner
from tests.support import ocam
from tests.support.keys import gpg, make_key, short_home, sign_detached


def cli(home, *args: str, by: ocam.Person | None = None, clock=None):
    """The real command, signed by *by* (the director unless told), with the CLI's injected clock if given."""
    return CliRunner().invoke(main, ocam.signed([*args, "--home", str(home.settings.home)], by=by), obj=clock)


def ok(home, *args: str, by: ocam.Person | None = None, clock=None) -> str:
    result = cli(home, *args, by=by, clock=clock)
    assert result.exit_code == 0, result.output
    return result.output


def events(home, action: str) -> list[tuple[str, dict]]:
    db = Database(home.settings.database_url)
    with db.reader() as uow:
        found = [(e.actor, dict(e.detail)) for e in uow.audit.recent(action=action, limit=1000)]
    db.dispose()
    return list(reversed(found))


def refusals(home) -> list[tuple[str, str, str]]:
    return [(actor, d["act"], d["why"]) for actor, d in events(home, "access.refused")]


def verified(detail: dict, person: ocam.Person) -> str:
    """gpg, in a fresh home holding only *person*'s public key, verifies the statement an event keeps; returns it."""
    check = short_home(Path("/tmp"), "pgv")
    gpg(check, "--import", data=person.key.public)
    (check / "statement").write_text(detail["statement"])
    (check / "statement.asc").write_text(detail["signature"])
    status = gpg(check, "--status-fd", "1", "--verify", str(check / "statement.asc"), str(check / "statement"))
    assert f"VALIDSIG {person.key.fingerprint}".encode() in status or person.key.fingerprint.encode() in status
    return detail["statement"]


def key_file(tmp, key) -> str:
    path = tmp / f"{key.fingerprint}.asc"
    path.write_bytes(key.public)
    return str(path)


@pytest.fixture(scope="module")
def rig(module_tmp):
    """A hub made with `init --director` (the session's director); the deputy, an analyst and a staff member
    registered with `member add`, signed by the director; one partner."""
    home = make_home(module_tmp)
    people = {role: ocam.person(role) for role in ("director", "deputy", "analyst", "staff")}
    for role in ("deputy", "analyst", "staff"):
        person = people[role]
        ok(home, "member", "add", person.name, "--role", role, "--email", person.email,
           "--key", key_file(module_tmp, person.key), "--clearance", "TOP-SECRET")
    police = partner(module_tmp, "police")
    ok(home, "partner", "add", "police-fed", "--kind", "police", "--email", police.email,
       "--key", key_file(module_tmp, police))
    return home, people, police


def test_init_registers_the_director_and_a_partner_is_registered_under_their_signature(rig):
    """The first member is the director (TOP-SECRET, by `init --director`); `partner add --signer-home` records
    partner.added under the director's name, with the statement of what was registered and its signature."""
    home, people, police = rig
    director = people["director"]
    listed = {m["name"]: m for m in json.loads(ok(home, "member", "list", "--json"))}
    assert (listed["director"]["role"], listed["director"]["clearance"]) == ("director", "TOP-SECRET")
    [(actor, detail)] = events(home, "partner.added")
    assert actor == "director" and detail["partner"] == "police-fed"
    statement = verified(detail, director)
    assert statement.startswith("Passerelle act\nhub: hub@ocam.test\nact: partner.add\n")
    assert f"member: director {director.key.fingerprint}\n" in statement
    for line in ("partner: police-fed", f"fingerprint: {police.fingerprint}", "kind: police",
                 f"email: {police.email}"):
        assert line + "\n" in statement
    added = [(actor, d["name"], d["role"]) for actor, d in
             ((a, dict(d, name=d["member"])) for a, d in events(home, "member.added"))]
    assert added[0][0].startswith("init:") and added[0][1:] == ("director", "director")  # made with the hub
    assert added[1:] == [("director", "deputy", "deputy"), ("director", "analyst", "analyst"),
                         ("director", "staff", "staff")]
    assert "act: member.designate-deputy\n" in verified(events(home, "member.added")[1][1], director)


def test_init_needs_the_director(short_tmp):
    """`passerelle init` without --director is refused, naming the option; nothing is made."""
    result = CliRunner().invoke(main, ["init", "--home", str(short_tmp / "hub"), "--domain", "ocam.test"])
    assert result.exit_code == 2 and "--director" in result.output
    assert not (short_tmp / "hub" / "passerelle.toml").exists()


def test_each_act_records_the_member_and_the_statement(rig, module_tmp):
    """A recipient added by the deputy, a key updated by the director, a request sent by the analyst, an export
    made by the director: each event's actor is the member, its statement names the act and its parameters and
    verifies with that member's key."""
    home, people, police = rig
    desk = make_key(module_tmp, "desk@ocam.test", name="Desk")
    ok(home, "recipient", "add", "desk", "--type", "ocam-duty", "--email", desk.email, "--key",
       key_file(module_tmp, desk), "--clearance", "SECRET", by=people["deputy"])
    ok(home, "partner", "update-key", "police-fed", "--key", key_file(module_tmp, police))
    body = module_tmp / "question.txt"
    body.write_text("Question")
    sent = ok(home, "send", "request", "--to", "police-fed", "--urgency", "URGENT", "--subject", "Q",
              "--body", str(body), by=people["analyst"])
    shown = ok(home, "messages", "show", sent.split()[0])  # the audit trail says who, and that it is a signed act
    assert [line.split()[-3:] for line in shown.splitlines() if "request.created" in line] == [
        ["analyst", "signed", "act"]]
    ok(home, "export", "oversight", "--committee", "P", "--out", str(module_tmp / "oversight.json"))
    expected = {"recipient.added": ("deputy", "recipient.add", [f"fingerprint: {desk.fingerprint}", "type: ocam-duty"]),
                "partner.key_updated": ("director", "partner.update-key", ["partner: police-fed"]),
                "request.created": ("analyst", "request.send", ["partner: police-fed", "urgency: URGENT",
                                                                "body-sha256: "]),
                "oversight.exported": ("director", "export.oversight", ["committee: P"])}
    for action, (who, act, lines) in expected.items():
        actor, detail = events(home, action)[-1]
        assert actor == who, action
        statement = verified(detail, people[who])
        assert f"act: {act}\n" in statement and all(line in statement for line in lines), statement
        assert "Question" not in statement  # content goes in as a digest only


def test_without_signer_home_the_act_is_refused_naming_the_option(rig, module_tmp):
    """No --signer-home: refused with the option named, nothing done."""
    home, _people, _police = rig
    other = partner(module_tmp, "customs")
    result = CliRunner().invoke(main, ["partner", "add", "customs", "--kind", "customs", "--email", other.email,
                                       "--key", key_file(module_tmp, other), "--home", str(home.settings.home)])
    assert result.exit_code == 2 and "give --signer-home DIR" in result.output
    assert "customs" not in ok(home, "partner", "list")


def test_a_key_no_member_holds_is_refused_and_recorded(rig, module_tmp):
    """A GnuPG home whose key is registered to nobody (here, a partner's): refused, recorded as unknown."""
    home, _people, police = rig
    stranger = ocam.Person("stranger", "analyst", police)  # the partner's own home: its key is no member's
    result = cli(home, "export", "oversight", "--committee", "R", "--out", str(module_tmp / "x.json"), by=stranger)
    assert result.exit_code == 2 and "holds no registered member's secret key" in result.output
    assert ("unknown key holder", "export.oversight") in [(a, act) for a, act, _ in refusals(home)]
    assert not (module_tmp / "x.json").exists()


def test_acts_outside_the_role_are_refused_with_a_sentence_and_recorded(rig, module_tmp):
    """The deputy registers an expert, but the analyst registers no partner and no member, the staff member sends
    no request, the analyst exports nothing for the committees: each refused with a sentence, recorded."""
    home, people, _police = rig
    other = partner(module_tmp, "mobility")
    body = module_tmp / "q2.txt"
    body.write_text("Question")
    expert = make_key(module_tmp, "expert-x@ocam.test", name="Expert")
    ok(home, "member", "add", "expert-x", "--role", "expert", "--email", expert.email,
       "--key", key_file(module_tmp, expert), "--clearance", "TOP-SECRET", by=people["deputy"])  # the deputy may
    second = make_key(module_tmp, "second@ocam.test", name="Second")
    attempts = [
        (people["analyst"], "partner.add", ["partner", "add", "mobility", "--kind", "mobility", "--email",
                                            other.email, "--key", key_file(module_tmp, other)]),
        (people["staff"], "request.send", ["send", "request", "--to", "police-fed", "--urgency", "ROUTINE",
                                           "--subject", "Q", "--body", str(body)]),
        (people["analyst"], "member.add", ["member", "add", "second", "--role", "expert", "--email",
                                           second.email, "--key", key_file(module_tmp, second),
                                           "--clearance", "TOP-SECRET"]),
        (people["analyst"], "export.oversight", ["export", "oversight", "--committee", "R", "--out",
                                                 str(module_tmp / "no.json")]),
    ]
    for person, act, args in attempts:
        result = cli(home, *args, by=person)
        assert result.exit_code == 2, (act, result.output)
        said = " ".join(result.output.split())
        assert f"{act} is not an act of the {person.role}" in said and "The attempt was recorded" in said, said
        assert (person.name, act) in [(a, x) for a, x, _ in refusals(home)]
    assert "mobility" not in ok(home, "partner", "list") and not (module_tmp / "no.json").exists()
    assert "second" not in ok(home, "member", "list")


def test_a_replayed_act_is_refused_and_a_stale_one_too(rig, module_tmp):
    """The same act at the same instant (the CLI's injected clock frozen) is the same statement: refused the
    second time, recorded. Presented again to the hub's door (hub.acts.signed.accept) from the audit log, it is
    refused as executed already; minutes later as stale; altered, or for other parameters, as not this act."""
    home, people, police = rig
    clock = FrozenClock(SystemClock().now())
    args = ("partner", "update-key", "police-fed", "--key", key_file(module_tmp, police))
    ok(home, *args, clock=clock)
    again = cli(home, *args, clock=clock)
    assert again.exit_code == 2 and "this statement was executed already" in again.output, again.output
    assert ("director", "partner.update-key") in [(a, x) for a, x, _ in refusals(home)]
    _actor, detail = events(home, "partner.key_updated")[-1]
    text, signature = detail["statement"], detail["signature"].encode()
    subject = {"partner": "police-fed", "fingerprint": police.fingerprint,
               "key_sha256": next(v for k, _, v in (ln.partition(": ") for ln in text.splitlines())
                                  if k == "key-sha256")}
    db = Database(home.settings.database_url)

    def door(statement: str, *, at=clock, hub=home.settings.hub.address, **changed):
        with db.unit_of_work() as uow:
            return accept(uow, home.gpg, at, text=statement, signature=signature, act="partner.update-key",
                          hub=hub, max_age_seconds=300, **(subject | changed))

    try:
        with pytest.raises(AccessRefused, match="executed already"):
            door(text)
        with pytest.raises(AccessRefused, match="more than 300 s before the hub acted on it"):
            door(text, at=FrozenClock(clock.now() + timedelta(minutes=6)))
        with pytest.raises(AccessRefused, match="not valid"):
            door(text.replace("police-fed", "vsse"))
        with pytest.raises(AccessRefused, match="does not state this act"):
            door(text, partner="vsse")
        with pytest.raises(AccessRefused, match="does not state this act"):
            door(text, hub="hub@elsewhere.test")
    finally:
        db.dispose()


def test_a_statement_naming_one_member_signed_by_another_is_refused(rig):
    """The analyst signs a statement that names the director as the member: refused, whose key it was said."""
    home, people, _police = rig
    director, analyst = people["director"], people["analyst"]
    clock = SystemClock()
    text = (f"Passerelle act\nhub: {home.settings.hub.address}\nact: export.oversight\n"
            f"member: director {director.key.fingerprint}\ndate: {clock.now().isoformat()}\ncommittee: R\n")
    signature = sign_detached(analyst.key, text.encode())
    db = Database(home.settings.database_url)
    try:
        with db.unit_of_work() as uow, pytest.raises(AccessRefused) as refused:
            accept(uow, home.gpg, clock, text=text, signature=signature, act="export.oversight",
                   hub=home.settings.hub.address, max_age_seconds=300, committee="R")
    finally:
        db.dispose()
    assert f"signed by {analyst.key.fingerprint}, not by the member director" in str(refused.value)
    assert refused.value.actor == "director"


def test_audit_list_shows_the_whole_log_to_the_director_and_their_own_acts_to_others(rig):
    """The director and the deputy list every event; the analyst only their own acts, and asking for another's
    is refused and recorded; times in Brussels with the zone, JSON in UTC; each reading is itself recorded."""
    home, people, _police = rig
    ok(home, "audit", "list", "--action", "partner.added", by=people["analyst"])  # an act of the analyst's own
    everything = json.loads(ok(home, "audit", "list", "--json"))
    actors = {e["actor"] for e in everything}
    assert {"director", "analyst"} <= actors and any(a.startswith("init:") for a in actors)
    assert all(e["at"].endswith("+00:00") for e in everything)
    by_deputy = json.loads(ok(home, "audit", "list", "--action", "member.added", "--json", by=people["deputy"]))
    assert [e["detail"]["member"] for e in by_deputy][:4] == ["director", "deputy", "analyst", "staff"]
    own = json.loads(ok(home, "audit", "list", "--json", by=people["analyst"]))
    assert own and {e["actor"] for e in own} == {"analyst"}
    human = ok(home, "audit", "list", "--actor", "director", "--action", "partner.added")
    assert "partner.added" in human and ("CET" in human or "CEST" in human) and "[signed]" in human
    assert "BEGIN PGP" not in human
    refused = cli(home, "audit", "list", "--actor", "director", by=people["analyst"])
    assert refused.exit_code == 2 and "reads the record of their own acts only" in refused.output
    assert ("analyst", "audit.list") in [(a, x) for a, x, _ in refusals(home)]
    listed = [(actor, d["role"], d["filters"]["actor"]) for actor, d in events(home, "audit.listed")]
    assert ("analyst", "analyst", "analyst") in listed and ("deputy", "deputy", None) in listed


def test_an_act_the_profiles_do_not_name_is_refused_to_everyone():
    """Fail closed: an act missing from the access profiles (hub/acts/competence.py ACTS) is refused even to the
    director, with a sentence; and the profiles name only roles a member can have (a misspelt one would lock its
    act away unseen)."""
    from hub.acts.competence import ACTS, authorise
    from hub.registry.members import ROLES
    from store import Member

    with pytest.raises(AccessRefused, match="no role may do it"):
        authorise(Member(name="director", role="director"), "hub.something-new")
    assert {role for roles, _why in ACTS.values() for role in roles} <= set(ROLES)
