"""The audit log holds (law Art. 9 §3, 7°): on copies of a real hub's store, a truncation, a deletion in the
middle, an edit and a rewrite with the tiles recomputed are each caught — by the stored checkpoints, by a
checkpoint file taken earlier, and by the witness's checkpoint — with the first index that differs; a rewrite
re-signed with the hub's key passes the stored checkpoints and is caught by the file and by the witness."""

from __future__ import annotations

import json
import re

import pytest

from crypto.tlog import EMPTY_ROOT, Checkpoint, Note, WitnessRequest
from hub.audit.entries import leaf_of_row
from hub.audit.tree import Growth, Tiles
from hub.settings import load
from store import Database
from tests.hub.audit.rig import cli, copy_home, ok, sql


def _verify(home, *checkpoints) -> tuple[int, str]:
    args = ["audit", "verify", "--home", str(home)]
    for path in checkpoints:
        args += ["--checkpoint", str(path)]
    result = cli(*args)
    return result.exit_code, result.output


def _recompute_tiles(home) -> None:
    """What someone with the store but not the key can do: tiles made anew from the events as they now are
    (the project's own code), the signed checkpoints left as they were."""
    sql(home, "DELETE FROM log_tile")
    db = Database(load(home).database_url)
    with db.unit_of_work() as uow:
        growth = Growth(uow.log, 0, EMPTY_ROOT)
        growth.add([leaf_of_row(r) for r in uow.log.stream()])
        uow.log.put_tiles(growth.written())
        uow.commit()
    db.dispose()


def _wipe_stored_evidence(home) -> None:
    """Leave the store nothing to compare with: no tiles, no checkpoints, no cosignatures."""
    sql(home, "DELETE FROM log_cosignature", "DELETE FROM log_checkpoint", "DELETE FROM log_tile")


def _tamper(home, how: str, k: int, size: int) -> int:
    """Tamper with the copy's events; returns the first index that differs."""
    if how == "truncation":
        sql(home, f"DELETE FROM audit_event WHERE seq >= {k}")
    elif how == "deletion":
        sql(home, f"DELETE FROM audit_event WHERE seq = {k}")
    elif how == "edit":
        sql(home, f"UPDATE audit_event SET actor = 'mallory' WHERE seq = {k}")
    elif how == "rewrite":  # an edit, and the tiles recomputed to match it
        sql(home, f"UPDATE audit_event SET actor = 'mallory' WHERE seq = {k}")
        _recompute_tiles(home)
    return k


def test_the_untouched_log_verifies_against_everything_it_was_given(logged):
    """The stored checkpoints, the file taken earlier, the witness's cosigned checkpoint: all agree."""
    code, output = _verify(logged.home.settings.home, logged.early, logged.state)
    assert code == 0, output
    assert "audit log intact" in output and "comite-r's cosignature of checkpoint" in output
    assert "checkpoint file early.checkpoint: the latest checkpoint" in output
    db = logged.home.db()
    with db.reader() as uow:
        reasons = {c.reason for c in uow.log.checkpoints()}
    db.dispose()
    assert {"periodic", "receipt", "operator"} <= reasons  # every second, for a receipt, on demand


@pytest.mark.parametrize("how", ["truncation", "deletion", "edit", "rewrite"])
def test_tampering_is_caught_by_the_stored_checkpoints_a_file_and_the_witness(logged, tmp_path, how):
    k = logged.early_size - 2  # inside what the file, the witness and the stored checkpoints all signed
    home = copy_home(logged, tmp_path)
    first = _tamper(home, how, k, logged.size)
    code, output = _verify(home)
    assert code == 1, output
    if how == "rewrite":  # the tiles agree with the events now: the signed roots bound where it changed
        low, high = map(int, re.search(r"first index that differs lies in (\d+)\.\.(\d+)", output).groups())
        assert low <= first <= high, output
    else:
        assert f"first index that differs: {first})" in output, output
    _wipe_stored_evidence(home)
    for given in (logged.early, logged.state):  # nothing left in the store to compare with: only outside
        code, output = _verify(home, given)
        assert code == 1 and "BROKEN" in output, output
    assert "log_inconsistent" in cli("duty", "alerts", "--home", str(home)).output


def _resign(home) -> None:
    """What an operator holding the hub's key can do: rewrite an event, drop every tile, checkpoint and
    cosignature, and sign the rewritten log anew."""
    sql(home, "UPDATE audit_event SET actor = 'mallory' WHERE seq = 3")
    _wipe_stored_evidence(home)
    ok("audit", "checkpoint", "--home", str(home))


def test_a_rewrite_resigned_with_the_hub_key_passes_alone_and_a_cosigned_checkpoint_defeats_it(logged, tmp_path):
    home = copy_home(logged, tmp_path)
    _resign(home)
    code, output = _verify(home)
    assert code == 0 and "audit log intact" in output  # the limit: the key holder's word alone proves nothing
    code, output = _verify(home, logged.state)
    assert code == 1 and "FORK: no consistency proof leads from the checkpoint in witness state" in output, output
    code, output = _verify(home, logged.early)
    assert code == 1 and "BROKEN" in output, output
    # The witness is asked to cosign the re-signed log: from its last size (the hub no longer knows it) ...
    settings = load(home)
    db = Database(settings.database_url)
    with db.reader() as uow:
        latest = uow.log.latest_checkpoint()
        note = Note.parse(latest.note)
        seen = json.loads(logged.state.read_text())["logs"]
        (old,) = [v["size"] for v in seen.values()]
        forged = WitnessRequest(old, tuple(Tiles(uow.log, latest.size).consistency(old)), note)
    db.dispose()
    for request in (WitnessRequest(0, (), note), forged):
        path = tmp_path / "request.txt"
        path.write_text(request.render())
        result = cli("witness", "cosign", str(path), "--hub-key", str(logged.hub_key), "--witness-home",
                     str(logged.witness.home), "--state", str(logged.state))
        assert result.exit_code != 0 and "REFUSED" in result.output, result.output
    assert "FORK" in result.output and result.exit_code == 3
    # ... and its cosignature, handed to the rewritten hub, is a fork there: an alert for the duty officer.
    result = cli("audit", "cosignature", str(logged.cosigned), "--home", str(home))
    assert result.exit_code == 1 and "fork" in result.output, result.output
    assert "log_fork" in cli("duty", "alerts", "--home", str(home)).output


def test_two_checkpoints_of_one_size_with_different_roots_are_a_fork_to_the_witness(logged, tmp_path):
    """The key holder signs another root for the very size the witness cosigned: refused as a fork."""
    from crypto.tlog import keys

    settings = load(logged.home.settings.home)
    signer = keys.note_signer(logged.home.gpg, settings.hub.key_fingerprint, "ocam.test/passerelle/audit")
    seen = next(iter(json.loads(logged.state.read_text())["logs"].values()))
    other = signer.sign(Checkpoint("ocam.test/passerelle/audit", seen["size"], bytes(32)).text())
    path = tmp_path / "fork.txt"
    path.write_text(WitnessRequest(seen["size"], (), other).render())
    state = tmp_path / "state.json"
    state.write_text(logged.state.read_text())
    result = cli("witness", "cosign", str(path), "--hub-key", str(logged.hub_key), "--witness-home",
                 str(logged.witness.home), "--state", str(state))
    assert result.exit_code == 3 and "FORK: two checkpoints of" in result.output, result.output
    assert state.read_text() == logged.state.read_text()  # nothing cosigned, nothing recorded


def test_a_checkpoint_not_signed_by_the_hub_is_refused_by_the_witness(logged, tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from crypto.tlog import Signer

    stranger = Signer("ocam.test/passerelle/audit", ed25519.Ed25519PrivateKey.generate())
    path = tmp_path / "stranger.txt"
    path.write_text(WitnessRequest(0, (), stranger.sign(Checkpoint("ocam.test/passerelle/audit", 1, bytes(32)).text()))
                    .render())
    result = cli("witness", "cosign", str(path), "--hub-key", str(logged.hub_key), "--witness-home",
                 str(logged.witness.home), "--state", str(tmp_path / "fresh.json"))
    assert result.exit_code == 1 and "(403)" in result.output and "not signed by the hub's key" in result.output
    assert not (tmp_path / "fresh.json").exists()


def test_the_hub_signs_no_checkpoint_over_a_tree_that_no_longer_holds(logged, tmp_path):
    """Tiles altered under the latest checkpoint, events appended since: no new checkpoint is signed (it could
    contradict the ones given out), and the duty officer gets an alert."""
    from hub import audit
    from hub.clock import SystemClock

    home = copy_home(logged, tmp_path)
    db = Database(load(home).database_url)
    with db.unit_of_work() as uow:
        tile = uow.log.tiles([(0, 0)])[(0, 0)]
        uow.log.put_tiles({(0, 0): bytes([tile[0] ^ 1]) + tile[1:]})  # leaf 0's hash altered
        audit.record(uow, SystemClock(), "test.appended")
        uow.commit()
    db.dispose()
    result = cli("audit", "checkpoint", "--home", str(home))
    assert result.exit_code == 2 and "no longer gives the root" in result.output, result.output
    assert "log_inconsistent" in cli("duty", "alerts", "--home", str(home)).output
