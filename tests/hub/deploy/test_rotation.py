"""`passerelle hub-key rotate`: the new key announced to every partner (signed by the old key, the new one inside,
signed by itself), receipts signed by the new key once the serving process reloads, mail encrypted to either key
accepted during the overlap, then only to the new one; the old key retired (it signs nothing, stored messages
still open with it) and its old receipts still verify."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import time
import tomllib
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from crypto import Gpg
from gateway.capture import CaptureRelay
from hub.cli.main import main
from hub.clock import FrozenClock
from hub.settings import load
from tests.hub.deploy.support import gpg_run, open_mail
from tests.hub.inbound.support import member, parts
from tests.hub.rig import Receipt, home_with_police, reference_in, signed
from tests.support import mail
from tests.support.hubrig import RunningHub, free_port, send_accepted, serve_process
from tests.support import ocam


def _cli(home, *args: str, clock=None):
    result = CliRunner().invoke(main, ocam.signed([*args, "--home", str(home.settings.home)]), obj=clock)
    assert result.exit_code == 0, result.output
    return result.output


def _receipt_signer(raw: bytes, home) -> tuple[str, str | None]:
    receipt = Receipt.read(raw, Gpg(home.settings.gnupg_home))
    return receipt.signature_status, receipt.signer


def _encrypted_to(key, home, *fingerprints: str) -> bytes:
    """A message signed by the partner and encrypted to the given hub keys (by fingerprint, in one message)."""
    hub_gpg = Gpg(home.settings.gnupg_home)
    for fingerprint in fingerprints:
        gpg_run(key.home, "--import", data=hub_gpg.export_public(fingerprint))
    entity = mail.plain_entity("Rotation", f"Encrypted to {len(fingerprints)} key(s) {time.time_ns()}", None,
                               {"Urgency": "ROUTINE"}, None, False)
    args = ["--trust-model", "always", "--armor", "--encrypt", "--sign", "--local-user", key.fingerprint]
    for fingerprint in fingerprints:
        args += ["--recipient", fingerprint]
    out = gpg_run(key.home, *args, data=entity)
    assert out.returncode == 0, out.stderr
    return mail.ciphertext_mail(out.stdout, sender=key.email)


def test_rotation_announces_the_new_key_and_the_serving_hub_signs_with_it_after_sighup(short_tmp):
    home, key = home_with_police(short_tmp)
    analyst = member(home, short_tmp, "a.peeters", "analyst")
    old = home.fingerprint
    port = free_port()
    with CaptureRelay() as relay:
        serve = serve_process(home.settings.home, port, relay.address)
        try:
            before = reference_in(send_accepted(port, signed(key), key.email, home.settings.hub.address))
            relay.wait_for(1, timeout=30)
            said = _cli(home, "hub-key", "rotate", "--overlap", "P30D")
            new = load(home.settings.home).hub.key_fingerprint
            assert new != old and f"new hub key      {new}" in said and "SIGHUP" in said
            relay.wait_for(4, timeout=30)  # the receipt, then the announcements to the partner and the members
            serve.send_signal(signal.SIGHUP)
            time.sleep(1)
            after = reference_in(send_accepted(port, signed(key), key.email, home.settings.hub.address))
            to_old = reference_in(send_accepted(port, _encrypted_to(key, home, old), key.email,
                                                home.settings.hub.address))
            to_new = reference_in(send_accepted(port, _encrypted_to(key, home, new), key.email,
                                                home.settings.hub.address))
            relay.wait_for(7, timeout=30)
            assert serve.poll() is None
        finally:
            serve.terminate()
            try:
                serve.wait(30)
            except subprocess.TimeoutExpired:
                serve.kill()
    receipts = {}
    announcements = {}
    for m in relay.messages:
        if m.message["Subject"].startswith("Passerelle: the hub's key changes"):
            announcements[m.rcpt_tos[0]] = m.data
        else:
            receipts[Receipt.read(m.data, Gpg(home.settings.gnupg_home)).fields["X-Passerelle-Reference"]] = m.data
    assert set(announcements) == {key.email, analyst.email, home.director.email}  # the director made at init
    # The announcement: signed by the old key, encrypted to the partner; inside, the new key and a part signed by it.
    opened = open_mail(announcements[key.email], key, Gpg(home.settings.gnupg_home).export_public(old))
    assert opened.signers == [old]
    entity = opened.plaintext
    assert entity.startswith(b"Content-Type: multipart/signed")
    content, signature = parts(entity)
    mixed = parts(content)
    text, attached = mixed[0].decode("latin-1"), mixed[1]
    assert b"Content-Type: application/pgp-keys" in attached
    new_public = base64.b64decode(attached.split(b"\r\n\r\n", 1)[1])
    gpg_run(key.home, "--import", data=new_public)
    sig_file = short_tmp / "announcement.sig"
    sig_file.write_bytes(signature.split(b"\r\n\r\n", 1)[1])
    checked = gpg_run(key.home, "--trust-model", "always", "--verify", str(sig_file), "-", data=content)
    assert checked.returncode == 0 and "VALIDSIG" in checked.stderr.decode() and new in checked.stderr.decode()
    assert new in text.replace("=\r\n", "") and old in text.replace("=\r\n", "")
    # Receipts: the old one by the old key (still verifiable), every one after the reload by the new key.
    assert _receipt_signer(receipts[before], home) == ("good", old)
    for reference in (after, to_old, to_new):
        assert _receipt_signer(receipts[reference], home) == ("good", new)
    # Their proofs too: the checkpoint each carries is signed by the key that signed the receipt (the serving
    # process's checkpoints follow the key at SIGHUP), checked without the hub's home; the log verifies whole.
    hub_gpg = Gpg(home.settings.gnupg_home)
    for reference, fingerprint in ((before, old), (after, new)):
        (short_tmp / f"{fingerprint}.asc").write_bytes(hub_gpg.export_public(fingerprint))
        (short_tmp / f"{reference}.eml").write_bytes(receipts[reference])
        checked = CliRunner().invoke(main, ["audit", "verify-receipt", str(short_tmp / f"{reference}.eml"),
                                            "--hub-key", str(short_tmp / f"{fingerprint}.asc"),
                                            "--key-home", str(key.home)])
        assert checked.exit_code == 0 and checked.output.rstrip().endswith("receipt verified"), checked.output
    assert _cli(home, "audit", "verify").rstrip().endswith("audit log intact")
    settings = tomllib.loads((home.settings.home / "passerelle.toml").read_text())["hub"]
    assert settings["key_fingerprint"] == new and settings["previous_keys"] == [old]
    listed = json.loads(_cli(home, "hub-key", "list", "--json"))
    assert [(k["fingerprint"], k["state"].split()[0]) for k in listed] == [(new, "current"), (old, "accepted")]
    db = home.db()
    with db.reader() as uow:
        (event,) = uow.audit.recent(action="hub.key_rotated")
    db.dispose()
    assert event.detail["old"] == old and event.detail["new"] == new and event.detail["announced"] == 3
    assert event.actor == "director" and event.detail["signature"]


def test_after_the_overlap_mail_to_the_old_key_is_refused_and_the_old_key_retired(short_tmp):
    home, key = home_with_police(short_tmp)
    director = home.director  # registered at init; the rotation is its signed act
    old = home.fingerprint
    now = datetime.now(timezone.utc)
    clock = FrozenClock(now)
    _cli(home, "hub-key", "rotate", "--overlap", "P1D", clock=clock)
    settings = load(home.settings.home)
    settings.delivery.retry_schedule_seconds = [0.3]
    new = settings.hub.key_fingerprint
    _cli(home, "partner", "kit", "police-fed", "--out", str(short_tmp / "kit-overlap"), clock=clock)
    assert (short_tmp / "kit-overlap" / "hub-key-previous.asc").exists()  # during the overlap: both keys
    assert new in (short_tmp / "kit-overlap" / "muttrc").read_text()
    with CaptureRelay() as relay, RunningHub(settings, relay=relay.address, clock=clock) as hub:
        hub.hub.scheduler_sleep = 0.2
        code, text = hub.send(_encrypted_to(key, home, old), mail_from=key.email)
        assert code == 250, text
        stored = reference_in(text)
        clock.set(now + timedelta(days=1, seconds=1))  # the overlap is over
        code, text = hub.send(_encrypted_to(key, home, old), mail_from=key.email)
        assert (code, text) == (550, "5.7.5 Encrypted to a retired key of the hub: encrypt to its current key, "
                                     "which the hub announced")
        for fingerprints in ((new,), (old, new)):  # to the new key, or to both: accepted
            code, text = hub.send(_encrypted_to(key, home, *fingerprints), mail_from=key.email)
            assert code == 250, text
        hub_gpg = Gpg(settings.gnupg_home)
        for _ in range(100):  # the scheduler's next check retires the old key (bounded: 20 s)
            if not hub_gpg.signs(old):
                break
            time.sleep(0.2)
    assert not hub_gpg.signs(old) and hub_gpg.signs(new)
    listed = json.loads(_cli(home, "hub-key", "list", "--json", clock=clock))
    assert listed[1] == {"fingerprint": old, "state": "retired", "signs": False}
    _cli(home, "partner", "kit", "police-fed", "--out", str(short_tmp / "kit-after"), clock=clock)
    assert not (short_tmp / "kit-after" / "hub-key-previous.asc").exists()
    # Retired, not destroyed: the message stored encrypted to the old key still opens for the director.
    out = short_tmp / "opened.eml"
    _cli(home, "messages", "open", stored, "--signer-home", str(director.home), "--out", str(out), clock=clock)
    assert b"Encrypted to 1 key(s)" in out.read_bytes()
    db = home.db()
    with db.reader() as uow:
        (retired,) = uow.audit.recent(action="hub.key_retired")
        refused = uow.audit.recent(action="intake.refused")
    db.dispose()
    assert retired.detail["key"] == old and retired.detail["current"] == new
    assert refused[0].detail["reason"] == "retired_key" and refused[0].detail["key"] == old
