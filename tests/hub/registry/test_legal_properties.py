"""What the law makes a property of a registration. Clearances: a contact point's is registered and changed under a
signed act, and the evaluation planner reads it (AR Art. 11 §8); every member of OCAM holds TOP-SECRET, and no one
below it holds embargoed information (law Art. 7 §3-§5, Art. 11-12 al. 2). The head of an Art. 12 service: its own
signer, with a key registered to nobody else (law Art. 12 al. 3)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hub.cli.main import main
from hub.clock import SystemClock
from store import Database, Member
from tests.hub.rig import make_home, partner
from tests.support import ocam
from tests.support.keys import make_key


def run(home, *args, by=None):
    return CliRunner().invoke(main, ocam.signed([*args, "--home", str(home.settings.home)], by=by))


@pytest.fixture(scope="module")
def rig(module_tmp):
    home = make_home(module_tmp)
    for name, kind, extra in (("police-fed", "police", ["--clearance", "TOP-SECRET"]), ("vsse", "intelligence", [])):
        key = partner(module_tmp, name)
        (module_tmp / f"{name}.asc").write_bytes(key.public)
        added = run(home, "partner", "add", name, "--kind", kind, "--email", key.email,
                    "--key", str(module_tmp / f"{name}.asc"), *extra)
        assert added.exit_code == 0, added.output
    for name, type_ in (("nsc-chair", "nsc-member"), ("crisis-centre", "crisis-centre"),
                        ("fed-prosecutor", "federal-prosecutor")):
        key = make_key(module_tmp, f"{name}@gov.test", name=name)
        (module_tmp / f"{name}.asc").write_bytes(key.public)
        added = run(home, "recipient", "add", name, "--type", type_, "--email", key.email,
                    "--key", str(module_tmp / f"{name}.asc"), "--clearance", "TOP-SECRET")
        assert added.exit_code == 0, added.output
    body = module_tmp / "evaluation.txt"
    body.write_text("Menace évaluée")
    return home, body


def _listed(home) -> dict[str, dict]:
    return {p["name"]: p for p in json.loads(run(home, "partner", "list", "--json").output)}


def _top_secret_preview(home, body):
    return run(home, "send", "evaluation", "--kind", "strategic", "--origin", "own", "--threat-level", "3",
               "--urgency", "URGENT", "--classification", "TOP-SECRET", "--subject", "S", "--body", str(body),
               "--preview")


def test_a_partners_clearance_is_registered_shown_and_planned_by(rig):
    """`partner add --clearance` registers it (SECRET when not given), `partner list` shows it; a TOP-SECRET
    evaluation stops on the SECRET contact point only, by name."""
    home, body = rig
    listed = _listed(home)
    assert (listed["police-fed"]["clearance"], listed["vsse"]["clearance"]) == ("TOP-SECRET", "SECRET")
    text = run(home, "partner", "list").output
    assert "TOP-SECRET" in next(line for line in text.splitlines() if line.startswith("police-fed"))
    preview = _top_secret_preview(home, body)
    assert preview.exit_code == 0, preview.output
    lines = {line.split()[0]: line for line in preview.output.splitlines() if line.startswith("  ")}
    assert "cleared TOP-SECRET" in lines["police-fed"] and "cleared SECRET" in lines["vsse"]
    stopped = run(home, "send", "evaluation", "--kind", "strategic", "--origin", "own", "--threat-level", "3",
                  "--urgency", "URGENT", "--classification", "TOP-SECRET", "--subject", "S", "--body", str(body))
    assert stopped.exit_code == 2 and "vsse: clearance too low" in stopped.output
    assert "police-fed: clearance" not in stopped.output


def test_partner_set_clearance_is_a_signed_act_and_lets_the_evaluation_go(rig):
    """`partner set --clearance` changes it as the director's signed act (its statement names the clearance, the
    audit log keeps it); the analyst may not; afterwards the TOP-SECRET evaluation goes to vsse too."""
    home, body = rig
    analyst = home.member(ocam.person("analyst"))
    refused = run(home, "partner", "set", "vsse", "--clearance", "TOP-SECRET", by=analyst)
    assert refused.exit_code == 2 and "partner.set is not an act of the analyst" in refused.output
    assert _listed(home)["vsse"]["clearance"] == "SECRET"
    changed = run(home, "partner", "set", "vsse", "--clearance", "top-secret")
    assert changed.exit_code == 0, changed.output
    assert "cleared             TOP-SECRET" in changed.output
    assert _listed(home)["vsse"]["clearance"] == "TOP-SECRET"
    db = Database(home.settings.database_url)
    with db.reader() as uow:
        event = uow.audit.recent(action="partner.changed", limit=1)[0]
    db.dispose()
    assert event.detail["clearance"] == "TOP-SECRET" and "clearance: TOP-SECRET\n" in event.detail["statement"]
    sent = run(home, "send", "evaluation", "--kind", "strategic", "--origin", "own", "--threat-level", "3",
               "--urgency", "URGENT", "--classification", "TOP-SECRET", "--subject", "S", "--body", str(body))
    assert sent.exit_code == 0, sent.output
    unknown = run(home, "partner", "set", "vsse", "--clearance", "COSMIC")
    assert unknown.exit_code == 2 and "COSMIC" in unknown.output


@pytest.mark.parametrize("role, article", [("analyst", "law Art. 7 §4 6°"), ("expert", "law Art. 7 §4 6°"),
                                           ("staff", "law Art. 7 §5 3°"), ("deputy", "law Art. 7 §3 4°")])
def test_a_member_below_top_secret_is_refused_with_the_article(rig, module_tmp, role, article):
    """Every member of OCAM holds "très secret" from their designation: `member add --clearance SECRET` is refused,
    citing the paragraph of the role; nothing is registered."""
    home, _body = rig
    key = make_key(module_tmp, f"low-{role}@ocam.test", name=f"Low {role}")
    (module_tmp / f"low-{role}.asc").write_bytes(key.public)
    refused = run(home, "member", "add", f"low-{role}", "--role", role, "--email", key.email,
                  "--key", str(module_tmp / f"low-{role}.asc"), "--clearance", "SECRET")
    assert refused.exit_code == 2, refused.output
    assert "TOP-SECRET" in refused.output and article in refused.output
    names = [m["name"] for m in json.loads(run(home, "member", "list", "--json").output)]
    assert f"low-{role}" not in names


def test_a_member_registered_below_top_secret_is_never_made_a_holder(rig, module_tmp):
    """A member on the store cleared SECRET (registered before the rule): `holders add` refuses them, citing law
    Art. 7 and Art. 11-12 al. 2, and the list is unchanged; a TOP-SECRET member is added."""
    home, _body = rig
    key = make_key(module_tmp, "old-analyst@ocam.test", name="Old analyst")
    home.gpg.import_keys(key.public)
    db = Database(home.settings.database_url)
    with db.unit_of_work() as uow:
        uow.members.add(Member(name="old-analyst", role="analyst", email=key.email, fingerprint=key.fingerprint,
                               clearance="SECRET", key_expires_at=None, created_at=SystemClock().now()))
        uow.commit()
    db.dispose()
    refused = run(home, "holders", "add", "--kind", "judicial", "old-analyst")
    assert refused.exit_code == 2, refused.output
    assert "old-analyst is cleared SECRET" in refused.output and "law Art. 7 §4 6°" in refused.output
    assert "law Art. 11-12 al. 2" in refused.output
    holders = json.loads(run(home, "holders", "list", "--json").output)
    assert "old-analyst" not in json.dumps(holders)
    expert = home.member(ocam.person("expert"))
    added = run(home, "holders", "add", "--kind", "judicial", expert.name)
    assert added.exit_code == 0, added.output


def test_the_head_of_an_article_12_service_is_registered_with_a_key_of_their_own(rig, module_tmp):
    """`partner set NAME --head-key FILE --head-email ADDR`: only for a service law Art. 12 names, only with a key
    registered to nobody (not the contact point's, not a member's), then shown and recorded in the signed act; the
    head's key is refused afterwards to any other registration."""
    home, _body = rig
    head = make_key(module_tmp, "head@vsse.test", name="Head Vsse")
    (module_tmp / "head.asc").write_bytes(head.public)
    (module_tmp / "director.asc").write_bytes(ocam.director().key.public)
    for name, key, sentence in (
            ("police-fed", "head.asc", "police-fed is a police service: the head of service who decides jointly is "
                                       "that of the services law Art. 12 al. 1 names"),
            ("vsse", "vsse.asc", "is registered to partner 'vsse'"),
            ("vsse", "director.asc", "is registered to member 'director'")):
        refused = run(home, "partner", "set", name, "--head-key", str(module_tmp / key), "--head-email",
                      "head@vsse.test" if key == "head.asc" else "x@y.test")
        assert refused.exit_code == 2 and sentence in " ".join(refused.output.split()), refused.output
    assert "law Art. 12 al. 3" in run(home, "partner", "set", "vsse", "--head-key", str(module_tmp / "vsse.asc"),
                                      "--head-email", "vsse@partner.test").output
    alone = run(home, "partner", "set", "vsse", "--head-key", str(module_tmp / "head.asc"))
    assert alone.exit_code == 2 and "both --head-key and --head-email" in alone.output
    assert _listed(home)["vsse"]["head_fingerprint"] is None
    assert "head of service     not registered" in run(home, "partner", "set", "vsse", "--clearance",
                                                         "TOP-SECRET").output
    done = run(home, "partner", "set", "vsse", "--head-key", str(module_tmp / "head.asc"), "--head-email",
               "HEAD@vsse.test")
    assert done.exit_code == 0, done.output
    assert f"head of service     <head@vsse.test> key {head.fingerprint}" in done.output
    listed = _listed(home)["vsse"]
    assert (listed["head_email"], listed["head_fingerprint"]) == ("head@vsse.test", head.fingerprint)
    db = Database(home.settings.database_url)
    with db.reader() as uow:
        event = uow.audit.recent(action="partner.changed", limit=1)[0]
    db.dispose()
    assert event.detail["head_fingerprint"] == head.fingerprint
    assert f"head-fingerprint: {head.fingerprint}\n" in event.detail["statement"]
    for register in (["partner", "add", "customs", "--kind", "customs"],
                     ["recipient", "add", "head", "--type", "nsc-member", "--clearance", "SECRET"],
                     ["member", "add", "head", "--role", "analyst", "--clearance", "TOP-SECRET"]):
        taken = run(home, *register, "--email", head.email, "--key", str(module_tmp / "head.asc"))
        assert taken.exit_code == 2 and "registered to the head of service of partner 'vsse'" in taken.output, \
            taken.output
