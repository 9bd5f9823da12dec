"""The gateway's certificate: init's names, `tls install` of a certificate from the organisation's CA (checked,
0600, recorded), presented by a running `passerelle serve` after SIGHUP to a client that verifies the chain."""

from __future__ import annotations

import hashlib
import json
import signal
import smtplib
import ssl
import stat
import subprocess
import time

from click.testing import CliRunner

from hub.cli.main import main
from tests.hub.rig import make_home
from tests.support import stores
from tests.support.certs import authority
from tests.support.hubrig import free_port, serve_process
from tests.support import ocam


def _cli(*args: str):
    return CliRunner().invoke(main, ocam.signed(args))


def _presented(port: int, context: ssl.SSLContext | None = None) -> str:
    """The SHA-256 of the certificate the gateway presents on STARTTLS (verified by *context*, if given)."""
    if context is None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.starttls(context=context)
        return hashlib.sha256(client.sock.getpeercert(binary_form=True)).hexdigest()


def test_init_names_the_hosts_partners_connect_by(short_tmp):
    store = stores.home_store_url()
    result = _cli("init", "--home", str(short_tmp / "hub"), "--domain", "ocam.example", "--tls-name",
                  "hub.ocam.example", "--tls-name", "192.0.2.7", *(["--store-url", store] if store else []),
                  *ocam.init_options(short_tmp))
    assert result.exit_code == 0, result.output
    assert "TLS names        hub.ocam.example, ocam.example, localhost, 192.0.2.7, 127.0.0.1" in result.output
    shown = json.loads(_cli("tls", "show", "--json", "--home", str(short_tmp / "hub")).output)
    assert shown["names"] == ["hub.ocam.example", "ocam.example", "localhost", "192.0.2.7", "127.0.0.1"]
    assert 820 <= shown["days_left"] <= 825
    bad = _cli("init", "--home", str(short_tmp / "other"), "--domain", "ocam.example", "--tls-name", "a b",
               *ocam.init_options(short_tmp))
    assert bad.exit_code == 2 and "neither a host name nor an IP address" in bad.output
    assert not (short_tmp / "other").exists()


def test_a_certificate_of_the_organisations_ca_is_checked_installed_and_presented_after_sighup(short_tmp):
    home = make_home(short_tmp)
    settings = home.settings
    ca = authority(short_tmp / "ca")
    cert, key = ca.issue("hub", ["hub.ocam.example", "127.0.0.1"])
    _other, other_key = ca.issue("other", ["hub.ocam.example"])
    before = settings.tls_cert.read_bytes()
    refused = _cli("tls", "install", "--cert", str(cert), "--key", str(other_key), "--chain", str(ca.intermediate),
                   "--home", str(settings.home))
    assert refused.exit_code == 2 and "certificate refused: the key does not match the certificate" in refused.output
    assert settings.tls_cert.read_bytes() == before and not list(settings.tls_cert.parent.glob("*.new"))
    port = free_port()
    serve = serve_process(settings.home, port, "127.0.0.1:9")
    try:
        old = _presented(port)
        installed = _cli("tls", "install", "--cert", str(cert), "--key", str(key), "--chain", str(ca.intermediate),
                         "--home", str(settings.home))
        assert installed.exit_code == 0, installed.output
        assert "names      hub.ocam.example, 127.0.0.1" in installed.output and "SIGHUP" in installed.output
        for path in (settings.tls_cert, settings.tls_key):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        new = json.loads(_cli("tls", "show", "--json", "--home", str(settings.home)).output)["sha256"]
        assert new != old and _presented(port) == old  # the running gateway keeps its certificate until told
        serve.send_signal(signal.SIGHUP)
        verifying = ssl.create_default_context(cafile=str(ca.root))  # the root alone: the hub sends the chain
        for _ in range(100):
            try:
                if _presented(port, verifying) == new:
                    break
            except ssl.SSLCertVerificationError:
                pass
            time.sleep(0.1)
        assert _presented(port, verifying) == new
        assert serve.poll() is None  # SIGHUP reloads, it does not stop the hub
    finally:
        serve.terminate()
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()
    db = home.db()
    with db.reader() as uow:
        event = uow.audit.recent(action="tls.installed")[0]
    db.dispose()
    assert event.detail["fingerprint"] == new and event.detail["previous"] == old
    assert event.detail["names"] == ["hub.ocam.example", "127.0.0.1"] and event.actor == "director"
