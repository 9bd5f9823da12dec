"""`passerelle partner kit`: what a contact point needs, nothing secret; the README's client settings are the kit's."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from hub.cli.main import main
from hub.deploy import clients
from tests.hub.rig import home_with_police
from tests.support.keys import gpg, short_home
from tests.support import ocam

README = Path(__file__).resolve().parents[3] / "README.md"


def _cli(*args: str):
    return CliRunner().invoke(main, ocam.signed(args))


def _kit(home, out: Path, *extra: str) -> str:
    result = _cli("partner", "kit", "police-fed", "--out", str(out), "--home", str(home.settings.home), *extra)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_kit_holds_the_hubs_key_its_certificate_and_client_settings_and_nothing_secret(short_tmp):
    home, key = home_with_police(short_tmp)
    out = short_tmp / "kit"
    said = _kit(home, out, "--host", "hub.ocam.example", "--port", "2525")
    files = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(files) == {"README.txt", "hub-key.asc", "hub-cert.pem", "muttrc", "neomuttrc", "aerc-accounts.conf",
                          "thunderbird.txt", "first-message.txt"}
    assert not any(b"PRIVATE" in data for data in files.values())
    # The hub's public key, the very one in the hub's keyring, and the certificate the gateway presents.
    shown = gpg(short_home(short_tmp), "--with-colons", "--show-keys", data=files["hub-key.asc"]).decode()
    assert f"fpr:::::::::{home.fingerprint}:" in shown and "sec:" not in shown
    assert files["hub-cert.pem"] == home.settings.tls_cert.read_bytes()
    tls = json.loads(_cli("tls", "show", "--json", "--home", str(home.settings.home)).output)
    readme = files["README.txt"].decode()
    groups = " ".join(home.fingerprint[i:i + 4] for i in range(0, 40, 4))
    assert groups in readme and tls["sha256"][:2].upper() + ":" + tls["sha256"][2:4].upper() in readme
    assert f"gpg --quick-lsign-key {home.fingerprint}" in readme and "hub@ocam.test" in readme
    assert home.fingerprint in said and tls["sha256"] in said
    mutt = files["muttrc"].decode()
    for line in ('set from = "police@partner.test"', 'set smtp_url = "smtp://hub.ocam.example:2525/"',
                 "set ssl_force_tls = yes", 'set certificate_file = "~/.passerelle/hub-cert.pem"',
                 f'set pgp_default_key = "0x{key.fingerprint}"', "set pgp_autoinline = no",
                 "set crypt_protected_headers_write = yes", f'crypt-hook hub@ocam.test "0x{home.fingerprint}"'):
        assert line in mutt, line
    assert "@hub.ocam.example" not in mutt  # no user in the URL: the hub offers no AUTH
    assert "outgoing = smtp+none://hub.ocam.example:2525" in files["aerc-accounts.conf"].decode()
    assert files["first-message.txt"].decode().startswith("Urgency: ROUTINE\nMessage-Kind: spontaneous\n\n")
    db = home.db()
    with db.reader() as uow:
        written = uow.audit.recent(action="partner.kit_written")
    db.dispose()
    assert written and written[0].detail["partner"] == "police-fed" and written[0].detail["tls"] == tls["sha256"]


def test_the_kit_defaults_to_the_certificates_name_and_refuses_to_write_over_anything(short_tmp):
    home, _key = home_with_police(short_tmp)
    out = short_tmp / "kit"
    said = _kit(home, out)
    assert "connects to      ocam.test:2525" in said  # init's certificate names the domain first
    again = _cli("partner", "kit", "police-fed", "--out", str(out), "--home", str(home.settings.home))
    assert again.exit_code == 2 and "never written over" in again.output
    unknown = _cli("partner", "kit", "nobody", "--out", str(short_tmp / "k2"), "--home", str(home.settings.home))
    assert unknown.exit_code == 2 and "no partner named 'nobody'" in unknown.output


def test_the_kits_commands_make_the_hub_key_valid_in_the_contact_points_keyring(short_tmp):
    """A new contact point's gpg refuses to encrypt to an imported key of undefined validity; the kit's two
    commands (import, local signature) make it valid, with the contact point's own key."""
    home, key = home_with_police(short_tmp)
    out = short_tmp / "kit"
    _kit(home, out)
    readme = (out / "README.txt").read_text()
    commands = [line.strip().split()[1:] for line in readme.splitlines() if line.strip().startswith("gpg --")]
    assert [c[0] for c in commands] == ["--import", "--quick-lsign-key"]
    plain = ["gpg", "--homedir", str(key.home), "--batch", "--yes"]

    def run(*args: str, data: bytes = b""):
        import subprocess

        return subprocess.run([*plain, *args], input=data, capture_output=True, timeout=60)

    run("--import", str(out / "hub-key.asc"))
    refused = run("--encrypt", "--armor", "-r", "hub@ocam.test", data=b"x")
    assert refused.returncode != 0 and b"no assurance" in refused.stderr  # "undefined validity"
    assert run(commands[1][0], commands[1][1]).returncode == 0
    listing = run("--with-colons", "--list-keys", home.fingerprint).stdout.decode()
    assert next(line for line in listing.splitlines() if line.startswith("pub:")).split(":")[1] == "f"
    assert run("--encrypt", "--armor", "-r", "hub@ocam.test", data=b"x").returncode == 0


def test_the_readmes_client_settings_are_the_kits_templates():
    """One source: every README block marked `<!-- kit: FILE -->` is that kit file filled for the example."""
    text = README.read_text()
    assert text.count("<!-- kit: ") >= 3
    assert clients.refresh_readme(text) == text, \
        "README blocks differ from hub/deploy/templates: README.md = hub.deploy.clients.refresh_readme(README.md)"
