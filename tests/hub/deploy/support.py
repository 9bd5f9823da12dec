"""What the deploy tests share: registering key holders through the CLI, and opening a captured hub mail with the
owner's gpg command line (never with the hub's own code)."""

from __future__ import annotations

import email
import subprocess
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from hub.cli.main import main
from tests.support.keys import TestKey, make_key
from tests.support import ocam


def ok(home, *args: str) -> str:
    result = CliRunner().invoke(main, ocam.signed([*args, "--home", str(home.settings.home)]))
    assert result.exit_code == 0, result.output
    return result.output


def holders(home, tmp: Path, *, expire: str) -> dict[str, TestKey]:
    """A partner, a member and a recipient, each registered with a key of its own that expires after *expire*."""
    made = {}
    for name, register in (
            ("police", ["partner", "add", "police-fed", "--kind", "police"]),
            ("analyst", ["member", "add", "a.peeters", "--role", "analyst", "--clearance", "TOP-SECRET"]),
            ("minister", ["recipient", "add", "interior", "--type", "minister", "--clearance", "SECRET"])):
        key = make_key(tmp, f"{name}@holders.test", name=name.title(), expire=expire)
        (tmp / f"{name}.asc").write_bytes(key.public)
        ok(home, *register, "--email", key.email, "--key", str(tmp / f"{name}.asc"))
        made[name] = key
    return made


@dataclass
class Opened:
    """A hub mail its recipient decrypted: the plaintext entity and who signed it (gpg's VALIDSIG)."""

    headers: email.message.Message
    plaintext: bytes
    signers: list[str]  # primary fingerprints of the good signatures


def gpg_run(home: Path, *args: str, data: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run(["gpg", "--homedir", str(home), "--batch", "--yes", "--status-fd", "2", *args],
                          input=data, capture_output=True, timeout=60)


def open_mail(raw: bytes, owner: TestKey, hub_public: bytes) -> Opened:
    """Decrypt a PGP/MIME encrypted mail with its owner's key, checking the signature inside against the hub's
    public key."""
    gpg_run(owner.home, "--import", data=hub_public)
    message = email.message_from_bytes(raw)
    assert message.get_content_type() == "multipart/encrypted"
    version, ciphertext = message.get_payload()
    assert version.get_content_type() == "application/pgp-encrypted"
    out = gpg_run(owner.home, "--trust-model", "always", "--decrypt", data=ciphertext.get_payload(decode=True))
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    signers = [line.split()[-1] for line in out.stderr.decode().splitlines() if line.startswith("[GNUPG:] VALIDSIG")]
    return Opened(message, out.stdout, signers)
