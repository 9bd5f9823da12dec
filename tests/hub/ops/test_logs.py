"""`passerelle --log-format json serve`: one JSON object per line with its time in UTC, level, logger, message
and the reference in a field of its own; never the content of a message (a canary in subject and body), nor the
storage key; the home's [log] format; the systemd units log JSON."""

from __future__ import annotations

import base64
import json
import re
import shlex
import uuid
from datetime import datetime, timezone
from pathlib import Path

from gateway.capture import CaptureRelay
from hub.cli.main import main
from tests.hub.ops.serving import Served
from tests.hub.ops.test_metrics import _send
from tests.hub.rig import home_with_police, reference_in, signed
from tests.support import mail

UNITS = Path(__file__).resolve().parents[3] / "docs" / "systemd"


def _traffic(home, police, served: Served, relay: CaptureRelay, canary: str) -> str:
    """An accepted message and a refused one, each with the canary in its subject and body; the reference."""
    code, text = _send(served.port, signed(police, subject=f"Subject {canary}", body=f"Body {canary}\n"),
                       police.email)
    assert code == 250
    assert _send(served.port, mail.unsigned_mail(sender=police.email, subject=canary, body=canary),
                 police.email)[0] == 550
    relay.wait_for(1)
    return reference_in(text)


def _no_secret(log: str, home, canary: str) -> None:
    assert canary not in log
    key = (home.settings.storage_key_path).read_bytes()
    for form in (key, base64.b64encode(key), key.hex().encode()):
        assert form.strip() and form.strip().decode(errors="replace") not in log
    assert "PRIVATE KEY" not in log


def test_json_lines_name_the_reference_and_never_the_content(short_tmp):
    home, police = home_with_police(short_tmp)
    canary = f"CANARY-{uuid.uuid4().hex}"
    with CaptureRelay() as relay:
        served = Served(home.settings.home, relay.address, "--log-format", "json", metrics=False).wait_ready()
        try:
            reference = _traffic(home, police, served, relay, canary)
        finally:
            served.stop()
    log = served.text()
    lines = [json.loads(line) for line in log.splitlines()]  # every line is one JSON object
    assert lines
    for entry in lines:
        assert {"time", "level", "logger", "message"} <= set(entry)
        at = datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
        assert entry["time"].endswith("Z") and at.tzinfo == timezone.utc
        assert abs((datetime.now(timezone.utc) - at).total_seconds()) < 600
        if re.search(r"PSR-\d{4}-\d{6}", entry["message"]):
            assert entry["reference"] == re.search(r"PSR-\d{4}-\d{6}", entry["message"]).group(0)
        else:
            assert "reference" not in entry
    mine = [e for e in lines if e.get("reference") == reference]
    assert {e["logger"] for e in mine} >= {"hub.intake.admission", "hub.intake.pipeline", "hub.outbound.delivery"}
    assert any(e["message"].startswith(f"admission: {reference} accepted from police-fed") for e in mine)
    assert any(e["logger"] == "hub.intake.admission" and "refused unsigned" in e["message"] for e in lines)
    assert any(e["logger"] == "passerelle" and e["message"].startswith("serving SMTP on 127.0.0.1:") for e in lines)
    _no_secret(log, home, canary)


def test_the_home_setting_chooses_json_and_text_stays_the_default(short_tmp):
    """[log] format = "json" in passerelle.toml, no option: JSON; PASSERELLE_LOG__FORMAT=text: text again, with the
    same lines and no content either."""
    home, police = home_with_police(short_tmp)
    toml = home.settings.home / "passerelle.toml"
    toml.write_text(toml.read_text().replace('format = "text"', 'format = "json"'))
    canary = f"CANARY-{uuid.uuid4().hex}"
    with CaptureRelay() as relay:
        served = Served(home.settings.home, relay.address, metrics=False).wait_ready()
        try:
            reference = _traffic(home, police, served, relay, canary)
        finally:
            served.stop()
        assert all(json.loads(line)["level"] for line in served.text().splitlines())
        text = Served(home.settings.home, relay.address, metrics=False, PASSERELLE_LOG__FORMAT="text").wait_ready()
        try:
            again = _traffic(home, police, text, relay, canary + "x")
        finally:
            text.stop()
    log = text.text()
    assert f"INFO hub.intake.admission: admission: {again} accepted from police-fed" in log
    assert not log.lstrip().startswith("{")
    assert "passerelle: serving SMTP on 127.0.0.1:" in log
    _no_secret(served.text() + log, home, canary)
    assert reference != again


def test_systemd_units_log_json_and_their_command_lines_parse():
    """Each unit's ExecStart is a valid `passerelle` command line with --log-format json and a metrics port."""
    units = sorted(UNITS.glob("passerelle-*@.service"))
    assert [u.name for u in units] == ["passerelle-gateway@.service", "passerelle-scheduler@.service",
                                       "passerelle-worker@.service"]
    for unit in units:
        exec_start = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
        args = shlex.split(exec_start.removeprefix("ExecStart=").replace("%i", "9465"))[1:]
        assert args[:3] == ["--log-format", "json", "serve"]
        context = main.make_context("passerelle", list(args))
        assert context.params["log_format"] == "json"
        sub = main.get_command(context, "serve").make_context("serve", args[3:], parent=context)
        assert sub.params["metrics_listen"] == "127.0.0.1:9465"
        assert sub.params["role"] in unit.name
