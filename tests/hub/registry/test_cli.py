"""The CLI: init registers the director and refuses to overwrite, hub keys import, partner keys are bound exactly
and checked, each registration the director's signed act."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.capture import CaptureRelay
from hub.cli.main import main
from hub.settings import load
from tests.conftest import INTEROP
from tests.support import keys as testkeys
from tests.support import ocam, stores
from tests.support.hubrig import RunningHub
from crypto.openpgp.gpg_process import stop_agent

KEYS = INTEROP
# The interop samples were signed years ago (2019-2021): what these tests judge is not their age.
SAMPLES_AGE = timedelta(days=36500)


def run(*args: str):
    """The command line; `init` with the session's director (tests.support.ocam), a registration signed by them."""
    if args[0] == "init":
        home = Path(args[args.index("--home") + 1])
        home.parent.mkdir(parents=True, exist_ok=True)
        args = (*args, *ocam.init_options(home.parent))
        if stores.on_postgres():
            args = (*args, "--store-url", stores.fresh_postgres())
    elif args[0] == "partner" and args[1] in ("add", "update-key"):
        args = tuple(ocam.as_director(*args))
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def home(short_tmp):
    result = run("init", "--home", str(short_tmp / "hub"), "--domain", "ocam.test")
    assert result.exit_code == 0, result.output
    return short_tmp / "hub"


def test_init_creates_the_identity_and_refuses_to_overwrite(home):
    """init makes the key, certificate, storage key, store and settings; a second init is refused."""
    store = () if stores.on_postgres() else ("passerelle.db",)  # on PostgreSQL: [store] url in the settings
    for part in ("passerelle.toml", *store, "keys/storage.key", "tls/cert.pem", "tls/key.pem", "gnupg"):
        assert (home / part).exists(), part
    assert oct((home / "keys" / "storage.key").stat().st_mode & 0o777) == "0o600"
    settings = load(home)
    assert settings.hub.address == "hub@ocam.test" and len(settings.hub.key_fingerprint) == 40
    members = json.loads(run("member", "list", "--json", "--home", str(home)).output)
    assert [(m["name"], m["role"], m["clearance"], m["fingerprint"]) for m in members] == [
        ("director", "director", "TOP-SECRET", ocam.director().key.fingerprint)]
    again = run("init", "--home", str(home), "--domain", "ocam.test")
    assert again.exit_code == 2 and "refusing to overwrite" in again.output


def test_init_imports_a_given_secret_key(short_tmp):
    """--hub-key imports the secret key; its user id must carry the hub's address."""
    key = str(KEYS / "openpgp-keys" / "encapsulated-list.sec")
    refused = run("init", "--home", str(short_tmp / "h1"), "--domain", "ocam.test", "--hub-key", key)
    assert refused.exit_code == 2 and "no user id for hub@ocam.test" in refused.output
    result = run("init", "--home", str(short_tmp / "h2"), "--domain", "a", "--address", "list@a", "--hub-key", key)
    assert result.exit_code == 0, result.output
    assert "7EDF3336CB8BC6D15D461DB5FFF7A04251E7D112" in result.output


def test_commands_refuse_an_uninitialised_home(short_tmp):
    result = run("partner", "list", "--home", str(short_tmp / "nothing"))
    assert result.exit_code == 2 and "passerelle init" in result.output


def test_partner_add_binds_the_key_and_shows_its_fingerprint(home, short_tmp):
    key = testkeys.make_key(short_tmp, "spoc@police.test")
    path = short_tmp / "police.asc"
    path.write_bytes(key.public)
    result = run("partner", "add", "police-fed", "--kind", "police", "--email", "SPOC@police.test",
                 "--key", str(path), "--fingerprint", " ".join([key.fingerprint[i:i + 4] for i in range(0, 40, 4)]),
                 "--home", str(home))
    assert result.exit_code == 0, result.output
    assert key.fingerprint in result.output
    listed = json.loads(run("partner", "list", "--json", "--home", str(home)).output)
    assert listed == [{"name": "police-fed", "kind": "police", "email": "spoc@police.test",
                       "fingerprint": key.fingerprint, "key_expires_at": None, "key_revoked": False,
                       "receipts": "encrypted", "relay_is_own_server": False, "clearance": "SECRET",
                       "head_email": None, "head_fingerprint": None}]
    again = run("partner", "add", "police-2", "--kind", "police", "--email", "spoc@police.test", "--key", str(path),
                "--home", str(home))
    assert again.exit_code == 2 and "already has this" in again.output


@pytest.mark.parametrize("key_file, email, fingerprint, message", [
    ("expired_key.txt", "bla@foo", None, "expired on 2010-08-14"),
    ("revoked_key.txt", "paz@nadir.org", None, "is revoked"),
    ("example_key.txt", "someone@else.test", None, "contains someone@else.test"),
    ("example_key.txt", "schleuder2@example.org", "0000111122223333444455556666777788889999", "fingerprint mismatch"),
])
def test_partner_add_refuses_with_a_clear_message(home, key_file, email, fingerprint, message):
    """Real keys from other projects: expired, revoked, wrong address, wrong fingerprint — each said plainly."""
    args = ["partner", "add", "svc", "--kind", "intelligence", "--email", email, "--key", str(KEYS / key_file),
            "--home", str(home)]
    if fingerprint:
        args += ["--fingerprint", fingerprint]
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert json.loads(run("partner", "list", "--json", "--home", str(home)).output) == []


def test_partner_add_refuses_an_unknown_kind(home):
    result = run("partner", "add", "svc", "--kind", "bakery", "--email", "x@y.test",
                 "--key", str(KEYS / "example_key.txt"), "--home", str(home))
    assert result.exit_code == 2 and "intelligence" in result.output


def test_update_key_takes_a_newer_copy_and_refuses_another_key(home, short_tmp):
    """A new expiry is taken; a different primary key is refused."""
    key = testkeys.make_key(short_tmp, "spoc@customs.test", expire="1y")
    first = short_tmp / "k1.asc"
    first.write_bytes(key.public)
    assert run("partner", "add", "customs", "--kind", "customs", "--email", key.email, "--key", str(first),
               "--home", str(home)).exit_code == 0
    testkeys.gpg(key.home, "--quick-set-expire", key.fingerprint, "3y")
    newer = short_tmp / "k2.asc"
    newer.write_bytes(testkeys.gpg(key.home, "--armor", "--export", key.fingerprint))
    before = json.loads(run("partner", "list", "--json", "--home", str(home)).output)[0]["key_expires_at"]
    result = run("partner", "update-key", "customs", "--key", str(newer), "--home", str(home))
    assert result.exit_code == 0, result.output
    after = json.loads(run("partner", "list", "--json", "--home", str(home)).output)[0]["key_expires_at"]
    assert after > before
    other = testkeys.make_key(short_tmp, "spoc@customs.test")
    path = short_tmp / "other.asc"
    path.write_bytes(other.public)
    refused = run("partner", "update-key", "customs", "--key", str(path), "--home", str(home))
    assert refused.exit_code == 2 and "a different key needs a new registration" in refused.output


def test_audit_chain_verifies(home):
    result = run("audit", "verify", "--home", str(home))
    assert result.exit_code == 0 and "intact" in result.output


def test_kmail_encapsulated_sample_is_accepted_end_to_end(short_tmp):
    """KMail's sign-then-encrypt sample from the interop set: decrypted with the list key, verified, 250."""
    key = str(KEYS / "openpgp-keys" / "encapsulated-list.sec")
    home = short_tmp / "hub"
    assert run("init", "--home", str(home), "--domain", "a", "--address", "list@a", "--hub-key", key).exit_code == 0
    sender = short_tmp / "sender.asc"
    shutil.copy(KEYS / "openpgp-keys" / "encapsulated-sender.pub", sender)
    added = run("partner", "add", "svc-a", "--kind", "intelligence", "--email", "admin@a", "--key", str(sender),
                "--home", str(home))
    assert added.exit_code == 0, added.output
    settings = load(home)
    settings.gateway.max_signature_age = SAMPLES_AGE
    raw = (KEYS / "mails" / "encapsulated.eml").read_bytes()
    raw = raw.split(b"\n", 1)[1] if raw.startswith(b"From ") else raw  # the mbox separator line
    with CaptureRelay() as relay, RunningHub(settings, relay=relay.address) as hub:
        code, text = hub.send(raw.replace(b"\r\n", b"\n").decode("ascii"), mail_from="admin@a", rcpt="list@a")
        assert code == 250, text
        assert relay.wait_for(1, timeout=20)
    shown = json.loads(run("messages", "list", "--json", "--home", str(home)).output)
    assert shown[0]["partner"] == "svc-a" and shown[0]["urgency_source"] == "default"


@pytest.fixture
def schleuder_hub(short_tmp):
    """A hub holding the schleuder test key (the key real Thunderbird samples were encrypted to)."""
    import subprocess

    gnupg = short_tmp / "sg"
    shutil.copytree(KEYS / "gnupg", gnupg)
    gnupg.chmod(0o700)
    secret = subprocess.run(
        ["gpg", "--homedir", str(gnupg), "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
         "--armor", "--export-secret-keys", "59C71FB38AEE22E091C78259D06350440F759BD3"],
        capture_output=True, check=True).stdout
    stop_agent(gnupg)
    (short_tmp / "hub.sec").write_bytes(secret)
    home = short_tmp / "hub"
    result = run("init", "--home", str(home), "--domain", "example.org", "--address", "schleuder@example.org",
                 "--hub-key", str(short_tmp / "hub.sec"))
    assert result.exit_code == 0, result.output
    return home


@pytest.mark.parametrize("sample, sender, reason", [
    ("protected-headers-request.eml", "paz@nadir.org", "signer_mismatch"),
    ("qp-encoding-encrypted+signed.eml", "test@localhost", "signer_mismatch"),
    ("attach-list-key-thunderbird.eml", "user@example.net", "signer_mismatch"),
    ("encrypted+signed-mime/thunderbird.eml", "paz@nadir.org", "unknown_signer"),
    ("exchange.eml", "paz@nadir.org", "unsigned"),
])
def test_real_thunderbird_encrypted_samples_are_decrypted_and_judged(schleuder_hub, sample, sender, reason):
    """Thunderbird's encrypted+signed mail (and Exchange's mangling of it) is decrypted and verified.

    The samples were signed with the list's own key but sent From other addresses: the gateway
    proves the signature good and then refuses the From mismatch; one signer is not registered;
    Exchange's copy carries no signature at all.
    """
    added = run("partner", "add", "schleuder-svc", "--kind", "intelligence", "--email", "schleuder@example.org",
                "--key", str(KEYS / "schleuder_at_example_public_key.txt"), "--home", str(schleuder_hub))
    assert added.exit_code == 0, added.output
    settings = load(schleuder_hub)
    from tests.crypto.test_interop import sample as read_sample

    settings.gateway.max_signature_age = SAMPLES_AGE
    raw = read_sample(sample).replace(b"\r\n", b"\n").decode("utf-8", "surrogateescape")
    with CaptureRelay() as relay, RunningHub(settings, relay=relay.address) as hub:
        code, text = hub.send(raw.encode("utf-8", "surrogateescape").replace(b"\n", b"\r\n"),
                              mail_from=sender, rcpt="schleuder@example.org")
    assert code == 550, text
    refused = json.loads(run("messages", "list", "--refused", "--json", "--home", str(schleuder_hub)).output)
    assert refused[0]["reason"] == reason and refused[0]["from"] == sender
