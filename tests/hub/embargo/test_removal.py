"""A member removed from a holder list reads nothing more (law Art. 11-12 al. 2): opening checks the kind's
current list, and the removal reseals, in the same act, every item the member's key opened to the remaining
holders — through the director's home, or a remaining holder's for a statement signed elsewhere."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from gateway.capture import CaptureRelay
from hub.clock import SystemClock
from hub.embargo import sealing
from store import Database, EmbargoItem
from store.base import Base
from tests.hub.embargo.test_embargo import _embargoed, _files_containing, _member, ok, run
from tests.hub.rig import make_home, new_message_id, partner, reference_in, signed
from tests.support.hubrig import RunningHub
from tests.support.keys import gpg as run_gpg
from tests.support.keys import revoke, sign_detached


@pytest.fixture(scope="module")
def rig(module_tmp):
    home = make_home(module_tmp)
    keys = {"police": partner(module_tmp, "police"), "vsse": partner(module_tmp, "vsse")}
    home.register(keys["police"], "police-fed", "police")
    home.register(keys["vsse"], "vsse", "intelligence")
    members = {"director": _member(home, module_tmp, "director", "director"),
               "ana": _member(home, module_tmp, "ana", "analyst")}
    for kind in ("judicial", "foreign"):
        ok(home, "holders", "add", "--kind", kind, "ana", "--signer-home", str(members["director"].home))
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        yield home, keys, members, relay, hub


def _holder(rig, module_tmp, name: str, *kinds: str):
    """A new analyst, designated a holder of each kind by the director."""
    home, _keys, members, _relay, _hub = rig
    members[name] = _member(home, module_tmp, name, "analyst")
    for kind in kinds or ("judicial",):
        ok(home, "holders", "add", "--kind", kind, name, "--signer-home", str(members["director"].home))
    return members[name]


def _row(home, reference: str) -> tuple[bytes, int, list[str]]:
    """The stored ciphertext, holder-list version and holders of an item, read from its store row."""
    db = Database(home.settings.database_url)
    with db.reader() as uow:
        item = uow.embargo.for_message(uow.messages.by_reference(reference).id)
        result = bytes(item.ciphertext), item.holder_version, sorted(h["name"] for h in item.holders)
    db.dispose()
    return result


def _events(home, reference: str) -> list[tuple[str, str, dict]]:
    db = Database(home.settings.database_url)
    with db.reader() as uow:
        events = [(e.action, e.actor, dict(e.detail or {})) for e in uow.audit.for_message(reference)]
    db.dispose()
    return events


def _history(home) -> list[dict]:
    return json.loads(ok(home, "holders", "list", "--history", "--json"))


def _decrypts(key, ciphertext: bytes) -> bytes | None:
    """What gpg in the key owner's own home makes of the ciphertext, bypassing the hub (None: it cannot)."""
    try:
        return run_gpg(key.home, "--decrypt", data=ciphertext)
    except RuntimeError:
        return None


def _opens(home, key, reference: str, tmp) -> bytes:
    out = tmp / f"{uuid.uuid4().hex}.eml"
    ok(home, "embargo", "open", reference, "--signer-home", str(key.home), "--out", str(out))
    return out.read_bytes()


def _store_holds(home, needle: bytes) -> list[str]:
    """Every table.column of the store where *needle* appears (binary, text or JSON values)."""
    db = Database(home.settings.database_url)
    found = []
    with db.reader() as uow:
        for table in Base.metadata.sorted_tables:
            for row in uow.session.execute(select(table)).mappings():
                for column, value in row.items():
                    blob = (bytes(value) if isinstance(value, (bytes, memoryview)) else
                            json.dumps(value).encode() if isinstance(value, (dict, list)) else str(value).encode())
                    if needle in blob:
                        found.append(f"{table.name}.{column}")
    db.dispose()
    return found


def _set_row(home, reference: str, ciphertext: bytes, holders: list[dict] | None = None) -> None:
    """Write an item's row behind the hub's back (a damaged row, or one restored from a backup)."""
    db = Database(home.settings.database_url)
    with db.unit_of_work() as uow:
        item = uow.embargo.for_message(uow.messages.by_reference(reference).id)
        item.ciphertext = ciphertext
        if holders is not None:
            item.holders = holders
        uow.commit()
    db.dispose()


def _holders(home, reference: str) -> list[dict]:
    db = Database(home.settings.database_url)
    with db.reader() as uow:
        holders = list(uow.embargo.for_message(uow.messages.by_reference(reference).id).holders)
    db.dispose()
    return holders


def test_a_removed_holder_opens_nothing_sealed_before_or_after(rig, module_tmp):
    """The removed member's `embargo open` is refused and recorded, and their key no longer decrypts the stored
    ciphertext with gpg directly — neither items sealed before the removal nor after; the remaining holders open
    every item; the old ciphertext is kept nowhere in the store; the other kind's list is untouched."""
    home, _keys, members, _relay, _hub = rig
    bob = _holder(rig, module_tmp, "bob", "judicial", "foreign")
    before = [_embargoed(rig) for _ in range(2)]
    foreign, foreign_canary = _embargoed(rig, "foreign", "vsse")
    old = {ref: _row(home, ref)[0] for ref, _ in before}
    old_holders = _holders(home, before[0][0])
    for ref, canary in before:  # bob can read them now: the test below can fail
        assert canary.encode() in _decrypts(bob, old[ref])
        assert canary.encode() in _opens(home, bob, ref, module_tmp)

    output = ok(home, "holders", "remove", "--kind", "judicial", "bob", "--signer-home", str(members["director"].home))
    version = _history(home)[-1]["version"]
    assert "judicial holders version" in output and "bob's key opened were resealed" in output, output
    assert all(ref in output for ref, _ in before)
    after = _embargoed(rig)

    for ref, canary in [*before, after]:
        refused = run(home, "embargo", "open", ref, "--signer-home", str(bob.home))
        assert refused.exit_code != 0 and "no key in" in refused.output, refused.output
        assert "current judicial list" in refused.output
        assert canary not in refused.output
        assert ("embargo.open_refused", "bob") in [(a, who) for a, who, _ in _events(home, ref)]
        ciphertext, item_version, holders = _row(home, ref)
        assert item_version == version and holders == ["ana", "director"]
        assert _decrypts(bob, ciphertext) is None
        for holder in ("ana", "director"):
            assert canary.encode() in _opens(home, members[holder], ref, module_tmp)
    for ref, _ in before:
        resealed = [d for a, who, d in _events(home, ref) if a == "embargo.resealed" and who == "director"]
        assert resealed and resealed[-1]["to_version"] == version and resealed[-1]["because"] == "holders.remove bob"
        assert ("embargo.opened_for_reseal", "director") in [(a, who) for a, who, _ in _events(home, ref)]
        armoured_line = old[ref].splitlines()[3]  # a line of the old ciphertext's body
        assert len(armoured_line) > 40 and _store_holds(home, armoured_line) == []
        if home.settings.database_url.startswith("sqlite"):  # nor in the database's files (zeroed, log emptied)
            assert _files_containing(home.settings.home, armoured_line) == []
    # Whatever key he holds: the old row put back (as from a backup) still does not open for him.
    reference, canary = before[0]
    resealed_row, resealed_holders = _row(home, reference)[0], _holders(home, reference)
    _set_row(home, reference, old[reference], old_holders)
    try:
        refused = run(home, "embargo", "open", reference, "--signer-home", str(bob.home))
        assert refused.exit_code != 0 and "current judicial list" in refused.output and canary not in refused.output
        assert [(a, who, d["why"]) for a, who, d in _events(home, reference) if a == "embargo.open_refused"][-1] == \
            ("embargo.open_refused", "bob", "not on the current holder list")
    finally:
        _set_row(home, reference, resealed_row, resealed_holders)
    # The foreign list still names bob: his foreign item still opens for him.
    assert foreign_canary.encode() in _opens(home, bob, foreign, module_tmp)


def test_the_removal_and_its_reseal_are_one_act(rig, module_tmp):
    """One item of three cannot be resealed (its ciphertext opens for nobody the director's home holds): the
    removal is refused with a sentence, and nothing changed — the list, the items already resealed in that
    transaction, the audit log; once the item is whole again the removal reseals all three."""
    home, _keys, members, _relay, _hub = rig
    carol = _holder(rig, module_tmp, "carol")
    items = [_embargoed(rig) for _ in range(3)]
    whole = {ref: _row(home, ref) for ref, _ in items}
    damaged = items[1][0]
    _set_row(home, damaged, run_gpg(carol.home, "--armor", "--encrypt", "--recipient", carol.fingerprint,
                                    data=b"not the item"))
    history = _history(home)

    director = ("--signer-home", str(members["director"].home))
    refused = run(home, "holders", "remove", "--kind", "judicial", "carol", *director)
    assert refused.exit_code != 0 and damaged in refused.output and "nothing changed" in refused.output, refused.output
    assert _history(home) == history
    for ref, _ in items:
        if ref != damaged:
            assert _row(home, ref) == whole[ref]
        assert not [a for a, _, _ in _events(home, ref) if a in ("embargo.resealed", "embargo.opened_for_reseal")]
    assert items[0][1].encode() in _opens(home, carol, items[0][0], module_tmp)  # still a holder

    _set_row(home, damaged, whole[damaged][0])
    output = ok(home, "holders", "remove", "--kind", "judicial", "carol", *director)
    assert "3 judicial item(s) carol's key opened were resealed" in output, output
    assert all(ref in output for ref, _ in items)
    for ref, canary in items:
        assert _decrypts(carol, _row(home, ref)[0]) is None
        assert canary.encode() in _opens(home, members["ana"], ref, module_tmp)


def test_a_removal_signed_elsewhere_reseals_through_a_remaining_holders_home(rig, module_tmp):
    """`holders apply` of a removal while items are sealed to the member: refused without --reseal-home, and
    with the removed member's own home; applied with a remaining holder's, who reseals in the same act."""
    home, _keys, members, _relay, _hub = rig
    dan = _holder(rig, module_tmp, "dan")
    reference, canary = _embargoed(rig)
    statement = module_tmp / "remove-dan.txt"
    output = ok(home, "holders", "remove", "--kind", "judicial", "dan", "--statement-out", str(statement))
    assert "--reseal-home" in output
    signature = module_tmp / "remove-dan.txt.asc"
    signature.write_bytes(sign_detached(members["director"], statement.read_bytes()))
    apply = ("holders", "apply", "--statement", str(statement), "--signature", str(signature))
    history, sealed = _history(home), _row(home, reference)

    refused = run(home, *apply)
    assert refused.exit_code != 0 and "removing dan reseals it in the same act" in refused.output
    assert "--reseal-home DIR of ana or director" in refused.output, refused.output
    assert reference in refused.output and "nothing changed" in refused.output
    refused = run(home, *apply, "--reseal-home", str(dan.home))
    assert refused.exit_code != 0 and "the member removed cannot reseal" in refused.output, refused.output
    assert _history(home) == history and _row(home, reference) == sealed

    output = ok(home, *apply, "--reseal-home", str(members["ana"].home))
    assert reference in output and _history(home)[-1]["member"] == "dan"
    assert [(a, who) for a, who, _ in _events(home, reference) if a == "embargo.resealed"][-1] == ("embargo.resealed",
                                                                                                   "ana")
    assert _decrypts(dan, _row(home, reference)[0]) is None
    assert run(home, "embargo", "open", reference, "--signer-home", str(dan.home)).exit_code != 0
    assert canary.encode() in _opens(home, members["director"], reference, module_tmp)

    # A member no item was sealed to is removed through a statement alone.
    _holder(rig, module_tmp, "eve")
    statement = module_tmp / "remove-eve.txt"
    ok(home, "holders", "remove", "--kind", "judicial", "eve", "--statement-out", str(statement))
    signature = module_tmp / "remove-eve.txt.asc"
    signature.write_bytes(sign_detached(members["director"], statement.read_bytes()))
    output = ok(home, "holders", "apply", "--statement", str(statement), "--signature", str(signature))
    assert "0 judicial item(s)" in output and _history(home)[-1]["member"] == "eve"


def test_a_holder_whose_key_was_revoked_is_left_out_of_the_reseal_and_told(rig, module_tmp):
    """A remaining holder's revoked key does not stop a removal: the items are resealed to the others (as at
    intake), and the command says who was left out."""
    home, _keys, members, _relay, _hub = rig
    fay = _holder(rig, module_tmp, "fay")
    _holder(rig, module_tmp, "gus")
    reference, canary = _embargoed(rig)
    home.gpg.import_keys(revoke(fay))  # the hub learns of fay's revocation
    result = run(home, "holders", "remove", "--kind", "judicial", "gus", "--signer-home", str(members["director"].home))
    assert result.exit_code == 0, result.output
    assert reference in result.output and "left out of the reseal (key expired or revoked): fay" in result.output
    _ciphertext, _version, holders = _row(home, reference)
    assert "fay" not in holders and "gus" not in holders and holders == ["ana", "director"]
    assert any(d.get("left_out") == ["fay"] for a, _, d in _events(home, reference) if a == "embargo.resealed")
    assert canary.encode() in _opens(home, members["ana"], reference, module_tmp)
    ok(home, "holders", "remove", "--kind", "judicial", "fay", "--signer-home", str(members["director"].home))


def test_content_sealed_while_the_list_changed_is_sealed_again_to_the_list_in_force(rig, module_tmp):
    """Intake seals before its transaction; a removal committed in between must not leave the new item sealed to
    the removed member: the accepting transaction, holding the lists, seals it again to the current list."""
    home, keys, members, _relay, hub = rig
    hal = _holder(rig, module_tmp, "hal")
    code, text = hub.send(signed(keys["police"], message_id=new_message_id()))  # a message row to hang it on
    assert code == 250, text
    reference = reference_in(text)
    db = Database(home.settings.database_url)
    try:
        with db.reader() as uow:
            stale = sealing.seal(home.gpg, uow, "judicial", b"Source humaine HAL", now=SystemClock().now())
            message_id = uow.messages.by_reference(reference).id
        assert "hal" in {h["name"] for h in stale.holders}
        ok(home, "holders", "remove", "--kind", "judicial", "hal", "--signer-home", str(members["director"].home))
        with db.unit_of_work() as uow:  # never committed: the message is not embargoed
            sealing.record(uow, SystemClock(), message_id=message_id, reference=reference, sealed=stale)
            uow.flush()
            item = uow.session.scalar(select(EmbargoItem).where(EmbargoItem.message_id == message_id))
            assert item.holder_version == _history(home)[-1]["version"]
            assert "hal" not in {h["name"] for h in item.holders}
            assert _decrypts(hal, bytes(item.ciphertext)) is None
            assert _decrypts(members["ana"], bytes(item.ciphertext)) == b"Source humaine HAL"
    finally:
        db.dispose()
