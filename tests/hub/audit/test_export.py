"""Oversight can check alone: an export of every event verifies with the hub's public key and no home; an event
dropped from it is caught even when the file is signed again; the hub exports nothing from a log that no longer
holds what it signed, or that a witness cosigned."""

from __future__ import annotations

import json

from hub.settings import load
from crypto import Gpg
from tests.hub.audit.rig import cli, copy_home, ok, sql


def _export(home, out, *args) -> None:
    ok("export", "oversight", "--committee", "R", "--out", str(out), "--home", str(home), *args)


def _verify(out, hub_key) -> tuple[int, str]:
    result = cli("export", "verify", str(out), "--hub-key", str(hub_key))
    return result.exit_code, result.output


def _sign_again(home, out) -> None:
    """As the hub's operator could: the altered file signed with the hub's key."""
    settings = load(home)
    signature, _ = Gpg(settings.gnupg_home).sign_detached(out.read_bytes(), settings.hub.key_fingerprint)
    out.with_name(out.name + ".asc").write_bytes(signature)


def test_an_export_of_every_event_verifies_without_a_home(logged, tmp_path):
    home = copy_home(logged, tmp_path)
    out = tmp_path / "oversight.json"
    _export(home, out)
    code, output = _verify(out, logged.hub_key)
    assert code == 0, output
    report = json.loads(out.read_text())
    assert report["log"]["first"] == 0 and len(report["log"]["events"]) >= logged.size
    assert "cosigned by comite-r, and the export's extends it" in output
    assert f"witness comite-r ({logged.witness.email}) is key {logged.witness.fingerprint}" in output


def test_a_period_proves_where_it_starts(logged, tmp_path):
    home = copy_home(logged, tmp_path)
    out = tmp_path / "period.json"
    _export(home, out, "--since", "2000-01-01")
    assert _verify(out, logged.hub_key)[0] == 0
    report = json.loads(out.read_text())
    report["log"]["first"] += 1  # claim the period starts one event later, and drop that event
    report["log"]["before"] = report["log"]["events"].pop(0)
    out.write_text(json.dumps(report))
    _sign_again(home, out)
    code, output = _verify(out, logged.hub_key)
    assert code == 1 and "the export does not prove that event 1 is the first of the period" in output, output


def test_an_event_dropped_from_the_export_is_caught_even_signed_again(logged, tmp_path):
    home = copy_home(logged, tmp_path)
    out = tmp_path / "oversight.json"
    _export(home, out)
    whole = out.read_text()
    for position, says in ((5, "BAD  event 5 is missing from the export"), (-1, "are missing from the export")):
        report = json.loads(whole)
        report["log"]["events"].pop(position)
        out.write_text(json.dumps(report))
        _sign_again(home, out)
        code, output = _verify(out, logged.hub_key)
        assert code == 1 and says in output, output


def test_the_hub_exports_nothing_from_a_log_that_no_longer_holds(logged, tmp_path):
    home = copy_home(logged, tmp_path)
    sql(home, "DELETE FROM audit_event WHERE seq = 4")
    result = cli("export", "oversight", "--committee", "P", "--out", str(tmp_path / "o.json"), "--home", str(home))
    assert result.exit_code == 2 and "no export: event 4 is missing from the log" in result.output, result.output
    assert not (tmp_path / "o.json").exists()


def test_a_rewrite_resigned_with_the_hub_key_cannot_be_exported_past_its_cosigned_checkpoint(logged, tmp_path):
    """The cosignature kept in the store: no consistency proof leads from the checkpoint the witness cosigned
    to the re-signed log's, so the hub exports nothing, and says why."""
    home = copy_home(logged, tmp_path)
    sql(home, "UPDATE audit_event SET actor = 'mallory' WHERE seq = 3", "DELETE FROM log_checkpoint",
        "DELETE FROM log_tile")
    ok("audit", "checkpoint", "--home", str(home))
    result = cli("export", "oversight", "--committee", "P", "--out", str(tmp_path / "o.json"), "--home", str(home))
    assert result.exit_code == 2 and "does not extend the one of" in result.output, result.output
    assert "log_inconsistent" in cli("duty", "alerts", "--home", str(home)).output
