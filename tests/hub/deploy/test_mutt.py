"""The kit's mutt settings used by a real mutt, driven in tmux as a contact point would (as the held-out client
corpus was made): a signed, then a signed and encrypted message to a running `passerelle serve` on loopback, each
answered 250 with no question about the certificate or the hub's key; their signed receipts reach the relay."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from crypto import Gpg
from gateway.capture import CaptureRelay
from hub.cli.main import main
from tests.hub.rig import HUB, Receipt, home_with_police
from tests.support.hubrig import free_port, serve_process
from tests.support import ocam

MUTT, TMUX = shutil.which("mutt"), shutil.which("tmux")
pytestmark = pytest.mark.skipif(not (MUTT and TMUX), reason="a real mutt and tmux are needed (Debian packages "
                                                            "mutt and tmux; `make system-deps` installs them)")
STEP_SECONDS = 30  # longest wait for one screen of mutt (gpg signing, SMTP, a loaded machine)


class Terminal:
    """A tmux server of the test's own (its socket in the test's folder, one per terminal: a server being killed
    still holds its socket for a moment), one window running *command*."""

    def __init__(self, folder: Path, name: str, command: str) -> None:
        self.base = [TMUX, "-S", str(folder / f"tmux-{name}.sock"), "-f", "/dev/null"]
        subprocess.run([*self.base, "new-session", "-d", "-s", "spoc", "-x", "100", "-y", "30", command],
                       check=True, timeout=30)
        self.seen: list[str] = []

    def screen(self) -> str:
        out = subprocess.run([*self.base, "capture-pane", "-p", "-t", "spoc"], capture_output=True, timeout=30)
        text = out.stdout.decode(errors="replace")
        self.seen.append(text)
        return text

    def wait_for(self, text: str, timeout: float = STEP_SECONDS) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"mutt never showed {text!r}; its screen:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.base, "send-keys", "-t", "spoc", *keys], check=True, timeout=30)

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True, timeout=30)


def _contact_point(short_tmp: Path, home, key, port: int) -> Path:
    """The contact point's machine: a home folder with a mail folder, the kit where it says it goes, the hub's
    key imported and locally signed with the kit's own commands, an editor that types a line."""
    spoc = short_tmp / "spoc"
    (spoc / "Mail").mkdir(parents=True)
    kit = spoc / ".passerelle"
    result = CliRunner().invoke(main, ocam.signed(["partner", "kit", "police-fed", "--out", str(kit), "--host", "127.0.0.1",
                                                   "--port", str(port), "--home", str(home.settings.home)]))
    assert result.exit_code == 0, result.output
    for line in (kit / "README.txt").read_text().splitlines():
        if line.strip().startswith("gpg --"):
            command = line.split()
            command = [command[0], "--homedir", str(key.home), "--batch", "--yes",
                       *[part.replace("~", str(spoc)) for part in command[1:]]]
            subprocess.run(command, check=True, capture_output=True, timeout=60)
    editor = spoc / "editor"
    editor.write_text('#!/bin/sh\necho "Typed by the contact point." >> "$1"\n')
    editor.chmod(0o755)
    return spoc


def _batch(env: str, spoc: Path, muttrc: Path) -> subprocess.CompletedProcess:
    return subprocess.run(f"{env} {MUTT} -n -F {muttrc} -s 'Batch' {HUB}", shell=True, input="Urgency: ROUTINE\n\nx\n",
                          capture_output=True, text=True, timeout=60)


def test_a_real_mutt_with_the_kits_settings_sends_signed_and_encrypted_mail_to_serve(short_tmp):
    home, key = home_with_police(short_tmp)
    port = free_port()
    spoc = _contact_point(short_tmp, home, key, port)
    env = f"env -i PATH=/usr/bin:/bin HOME={spoc} GNUPGHOME={key.home} EDITOR={spoc}/editor TERM=screen LANG=C.UTF-8"
    with CaptureRelay() as relay:
        serve = serve_process(home.settings.home, port, relay.address)
        terminals: list[Terminal] = []
        try:
            for n, encrypt in enumerate((False, True)):
                # -n: not the system's Muttrc (the machine's own settings play no part); -F the kit's settings.
                mutt = (f"{env} {MUTT} -n -F {spoc}/.passerelle/muttrc -s 'Passerelle test {n}' "
                        f"-i {spoc}/.passerelle/first-message.txt {HUB}")
                terminal = Terminal(short_tmp, str(n), f"{mutt}; echo mutt exited $?; sleep 600")
                terminals.append(terminal)
                terminal.wait_for("To: " + HUB)
                terminal.keys("Enter")
                terminal.wait_for("Subject: Passerelle test")
                terminal.keys("Enter")
                terminal.wait_for("Security: Sign (PGP/MIME)")  # crypt_autosign: every message signed
                if encrypt:
                    terminal.keys("p")
                    terminal.wait_for("(b)oth")
                    terminal.keys("b")
                    terminal.wait_for("Security: Sign, Encrypt (PGP/MIME)")
                terminal.keys("y")
                terminal.wait_for("mutt exited 0", timeout=60)
                terminal.close()
            relay.wait_for(2, timeout=60)
            # mutt's batch mode cannot sign (its manual): the hub refuses, and mutt shows why. Without the kit's
            # certificate, batch mutt stops at TLS: "Untrusted server certificate" (the new user).
            batch = _batch(env, spoc, spoc / ".passerelle" / "muttrc")
            assert batch.returncode != 0 and "550 5.7.1 Message is not signed" in batch.stderr
            muttrc = (spoc / ".passerelle" / "muttrc").read_text()
            untrusting = spoc / "muttrc-without-the-certificate"
            untrusting.write_text(muttrc.replace("~/.passerelle/hub-cert.pem", "~/.mutt/certificates"))
            batch = _batch(env, spoc, untrusting)
            assert batch.returncode != 0 and "Untrusted server certificate" in batch.stderr
        finally:
            for terminal in terminals:
                terminal.close()
            serve.terminate()
            try:
                serve.wait(30)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait(10)
    screens = "\n".join(s for t in terminals for s in t.seen)
    for question in ("ertificate", "(r)eject", "accept (o)nce", "not valid", "undefined validity", "password"):
        assert question not in screens, question
    listed = json.loads(CliRunner().invoke(main, ["messages", "list", "--json", "--home",
                                                  str(home.settings.home)]).output)
    accepted = [m for m in listed if m["partner"] == "police-fed"]
    assert len(accepted) == 2  # the batch message was refused, never accepted
    shown = [json.loads(CliRunner().invoke(main, ["messages", "show", m["reference"], "--json", "--home",
                                                  str(home.settings.home)]).output) for m in accepted]
    assert sorted(s["encrypted"] for s in shown) == [False, True]
    assert all(s["urgency"] == "ROUTINE" and s["urgency_source"] == "protected" for s in shown)  # first body lines
    receipts = [Receipt.read(m.data, Gpg(home.settings.gnupg_home)) for m in relay.messages]
    assert all(r.signature_status == "good" and r.signer == home.fingerprint for r in receipts)
    assert sorted(r.fields["X-Passerelle-Reference"] for r in receipts) == sorted(m["reference"] for m in accepted)
    assert {m.rcpt_tos for m in relay.messages} == {(key.email,)}
