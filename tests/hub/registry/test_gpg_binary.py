"""The hub runs the gpg named in its settings, by absolute path: a `gpg` (or `gpgconf`, `gpg-agent`) put
earlier in PATH is never run, and a relative name is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import pytest
from pydantic import ValidationError

from crypto import Gpg, GpgUnavailable
from gateway.capture import CaptureRelay
from hub.settings import Settings, load
from tests.hub.rig import HUB, Receipt, partner, use_embedded
from tests.support import mail
from tests.support.hubrig import free_port, send_accepted, serve_process


def _trap(directory, marker):
    """Executables named like GnuPG's that record being run, and fail."""
    directory.mkdir()
    for name in ("gpg", "gpg2", "gpgconf", "gpg-agent"):
        tool = directory / name
        tool.write_text(f"#!/bin/sh\necho {name} \"$@\" >> {marker}\nexit 2\n")
        tool.chmod(0o755)


def test_a_gpg_earlier_in_path_is_never_run(short_tmp):
    """init, partner add and serve (a signed message accepted, its receipt signed) with fake GnuPG tools
    first in PATH: none of them runs, and the hub works with the system's gpg."""
    key = partner(short_tmp, "police")  # made before PATH is touched (tests/support/keys runs "gpg")
    marker = short_tmp / "ran"
    _trap(short_tmp / "trap", marker)
    env = {**os.environ, "PATH": f"{short_tmp / 'trap'}{os.pathsep}{os.environ['PATH']}"}
    home = short_tmp / "hub"
    subprocess.run([sys.executable, "-m", "hub", "init", "--home", str(home), "--domain", "ocam.test"],
                   env=env, check=True, capture_output=True, timeout=120)
    use_embedded(home)
    (short_tmp / "police.asc").write_bytes(key.public)
    subprocess.run([sys.executable, "-m", "hub", "partner", "add", "police-fed", "--kind", "police", "--email",
                    key.email, "--key", str(short_tmp / "police.asc"), "--home", str(home)],
                   env=env, check=True, capture_output=True, timeout=120)
    port = free_port()
    with CaptureRelay() as relay:
        process = serve_process(home, port, relay.address, PATH=env["PATH"])
        try:
            send_accepted(port, mail.signed_mail(key, body=uuid.uuid4().hex), key.email, HUB)
            relay.wait_for(1, timeout=30)
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)
    settings = load(home)
    assert settings.crypto.gpg_binary.startswith("/") and "trap" not in settings.crypto.gpg_binary
    receipt = Receipt.read(relay.messages[0].data, Gpg(settings.gnupg_home))
    assert receipt.signature_status == "good"
    assert not marker.exists(), marker.read_text()


def test_a_relative_gpg_binary_is_refused(short_tmp):
    """crypto.gpg_binary = "gpg" (a lookup in PATH) is refused by the settings and by the adapter."""
    with pytest.raises(ValidationError, match="absolute path"):
        Settings(crypto={"gpg_binary": "gpg"})
    with pytest.raises(GpgUnavailable, match="absolute path"):
        Gpg(short_tmp / "gnupg", binary="gpg")
    assert Settings().crypto.gpg_binary == Gpg(short_tmp / "gnupg").binary  # one default: the system's
