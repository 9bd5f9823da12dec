"""Embargo declarations (law Art. 11, 12; AR Art. 15 al. 1): only inside the signed part; a judicial one declared
by another service than the Federal Prosecutor stays sealed, unconfirmed, until the prosecutor's signed message."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from gateway import replies as R
from gateway.capture import CaptureRelay
from store import Database
from tests.hub.embargo.test_embargo import _member
from tests.hub.rig import cli, make_home, new_message_id, partner, reference_in, signed
from tests.support.hubrig import RunningHub


def ok(home, *args) -> str:
    result = cli(home, *args)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def rig(module_tmp):
    home = make_home(module_tmp)
    keys = {"police": partner(module_tmp, "police"), "prosecutor": partner(module_tmp, "prosecutor")}
    home.register(keys["police"], "police-fed", "police")
    home.register(keys["prosecutor"], "fed-prosecutor-office", "federal-prosecutor")
    director = _member(home, module_tmp, "director", "director")
    _member(home, module_tmp, "ana", "analyst")
    ok(home, "holders", "add", "--kind", "judicial", "ana", "--signer-home", str(director.home))
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        yield home, keys, hub


def _events(home, reference: str) -> list[tuple[str, str, dict]]:
    db = Database(home.settings.database_url)
    with db.reader() as uow:
        events = [(e.action, e.actor, dict(e.detail)) for e in uow.audit.for_message(reference)]
    db.dispose()
    return events


def _listed(home, reference: str) -> dict:
    return next(r for r in json.loads(ok(home, "embargo", "list", "--json")) if r["reference"] == reference)


def _judicial(rig, sender: str = "police") -> str:
    _home, keys, hub = rig
    code, text = hub.send(signed(keys[sender], message_id=new_message_id(), body=f"Dossier {uuid.uuid4().hex}",
                                 keyword_lines={"Embargo": "judicial", "Message-Kind": "spontaneous"}))
    assert code == 250, text
    return reference_in(text)


def test_an_embargo_only_in_the_unsigned_outer_header_is_refused(rig):
    """Anyone on the path could add an outer header: it would seal the content and remove the deadline."""
    home, keys, hub = rig
    body = f"Rapport {uuid.uuid4().hex}"
    code, text = hub.send(signed(keys["police"], message_id=new_message_id(), body=body,
                                 headers={"Embargo": "judicial"}))
    assert (code, text[:5]) == (550, "5.7.1"), text
    assert "declare it inside the signed part" in text and "outer header" in text
    db = Database(home.settings.database_url)
    with db.reader() as uow:
        refusal = dict(uow.audit.recent(action="intake.refused", limit=1)[0].detail)
    db.dispose()
    assert refusal["reason"] == R.EMBARGO_UNPROTECTED.name and refusal["embargo"] == "judicial"
    assert refusal["enhanced"] == "5.7.1"


@pytest.mark.parametrize("where", ["protected", "keyword_lines"])
def test_an_embargo_inside_the_signed_part_is_sealed(rig, where):
    """A protected header (RFC 9788) or the body's first lines: accepted, and sealed to the holders."""
    home, keys, hub = rig
    code, text = hub.send(signed(keys["police"], message_id=new_message_id(), body=f"Note {uuid.uuid4().hex}",
                                 **{where: {"Embargo": "judicial"}}))
    assert code == 250, text
    reference = reference_in(text)
    row = _listed(home, reference)
    assert row["kind"] == "judicial" and set(row["holders"]) == {"ana", "director"}
    sealed = next(d for a, _, d in _events(home, reference) if a == "embargo.sealed")
    assert sealed["declared_by"] == "police-fed" and sealed["confirmed"] is False


def test_the_signed_value_wins_over_a_conflicting_outer_one(rig):
    """As for every routing field: the protected value applies, the conflict is recorded (intake.field_conflict)."""
    home, keys, hub = rig
    code, text = hub.send(signed(keys["police"], message_id=new_message_id(), body=f"Note {uuid.uuid4().hex}",
                                 headers={"Embargo": "foreign"}, keyword_lines={"Embargo": "judicial"}))
    assert code == 250, text
    reference = reference_in(text)
    assert _listed(home, reference)["kind"] == "judicial"
    conflict = next(d for a, _, d in _events(home, reference) if a == "intake.field_conflict")
    assert conflict == {"field": "embargo", "outer": "foreign", "protected": "judicial"}


def test_a_judicial_embargo_by_the_police_awaits_the_prosecutors_signed_confirmation(rig, module_tmp):
    """Law Art. 11: declared by the police it is recorded as declared by it, sealed, flagged and alerted; the
    prosecutor confirms it by a signed message quoting the statement; anyone else's confirmation is refused."""
    home, keys, hub = rig
    reference = _judicial(rig)
    row = _listed(home, reference)
    assert (row["declared_by"], row["confirmation"], row["confirmed_by"]) == ("police-fed", "unconfirmed", None)
    line = next(x for x in ok(home, "embargo", "list").splitlines() if x.startswith(reference))
    assert "UNCONFIRMED: declared by police-fed, awaits the Federal Prosecutor (law Art. 11)" in line
    alert = next((a, actor, d) for a, actor, d in _events(home, reference) if a == "alert.embargo_unconfirmed")
    assert alert[1] == "police-fed" and alert[2]["declared_by"] == "police-fed"

    statement = module_tmp / f"confirm-{reference}.txt"
    ok(home, "embargo", "confirmation", reference, "--out", str(statement))
    text = statement.read_text()
    assert text.startswith("Passerelle judicial embargo confirmation\n") and "declared-by: police-fed\n" in text
    body = f"Le Procureur fédéral confirme l'embargo.\n\n{text}\n-- \nParquet fédéral\n"
    code, reply = hub.send(signed(keys["police"], message_id=new_message_id(), body=body))
    assert (code, reply[:5]) == (550, "5.7.1"), reply
    assert "confirmation refused" in reply and "not the Federal Prosecutor's registered key" in reply
    assert _listed(home, reference)["confirmation"] == "unconfirmed"

    code, reply = hub.send(signed(keys["prosecutor"], message_id=new_message_id(), body=body))
    assert code == 250, reply
    row = _listed(home, reference)
    assert (row["confirmation"], row["confirmed_by"]) == ("confirmed", "fed-prosecutor-office")
    assert row["confirmed_at"] is not None
    confirmed = next((actor, d) for a, actor, d in _events(home, reference) if a == "embargo.confirmed")
    assert confirmed[0] == "fed-prosecutor-office" and confirmed[1]["declared_by"] == "police-fed"
    assert confirmed[1]["evidence"].startswith(f"signed message {reference_in(reply)} ")
    line = next(x for x in ok(home, "embargo", "list").splitlines() if x.startswith(reference))
    assert "confirmed by fed-prosecutor-office" in line and "UNCONFIRMED" not in line

    code, reply = hub.send(signed(keys["prosecutor"], message_id=new_message_id(), body=body + "bis\n"))
    assert code == 550 and "confirmed already" in reply, reply


def test_a_judicial_embargo_by_the_federal_prosecutor_is_confirmed_at_once(rig):
    home, _keys, _hub = rig
    reference = _judicial(rig, sender="prosecutor")
    row = _listed(home, reference)
    assert (row["declared_by"], row["confirmation"], row["confirmed_by"]) == (
        "fed-prosecutor-office", "confirmed", "fed-prosecutor-office")
    assert "alert.embargo_unconfirmed" not in [a for a, _, _ in _events(home, reference)]


def test_the_embargo_screen_shows_a_judicial_embargo_unconfirmed(rig):
    """Dashboard, Embargo screen: the prosecutor column says UNCONFIRMED until the Federal Prosecutor confirms."""
    from textual.widgets import DataTable

    from tui import Dashboard

    home, _keys, _hub = rig
    unconfirmed, confirmed = _judicial(rig), _judicial(rig, sender="prosecutor")
    db = Database(home.settings.database_url)

    async def show() -> list[dict[str, str]]:
        app = Dashboard(db, refresh_seconds=0.2)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)
            await pilot.press("e")
            await pilot.pause(0.4)
            table = app.query_one("#embargo-items", DataTable)
            labels = [str(c.label) for c in table.ordered_columns]
            rows = [dict(zip(labels, [str(c) for c in table.get_row_at(i)])) for i in range(table.row_count)]
            await pilot.press("q")
        return rows

    rows = {r["reference"]: r for r in asyncio.run(show())}
    db.dispose()
    assert rows[unconfirmed]["prosecutor"] == "UNCONFIRMED" and rows[unconfirmed]["from"] == "police-fed"
    assert rows[confirmed]["prosecutor"] == "confirmed"
