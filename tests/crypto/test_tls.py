"""The gateway's certificates: the self-signed one init makes, and the checks an organisation's certificate passes."""

from __future__ import annotations

import hashlib
import ipaddress
import ssl
import stat
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from crypto.errors import CertificateRefused
from crypto.tls import check_pair, make_self_signed, read_certificate
from tests.support.certs import authority, openssl


def test_certificate_has_sans_and_private_key(tmp_path):
    cert_path, key_path = tmp_path / "c.pem", tmp_path / "k.pem"
    fingerprint = make_self_signed("hub.ocam.test", cert_path, key_path)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"hub.ocam.test", "localhost"}
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    der = ssl.PEM_cert_to_DER_cert(cert_path.read_text())
    assert fingerprint == hashlib.sha256(der).hexdigest()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    with pytest.raises(FileExistsError):
        make_self_signed("hub.ocam.test", cert_path, tmp_path / "k2.pem")


def test_self_signed_certificate_names_the_given_hosts(tmp_path):
    """init --tls-name: the names partners connect by, beside localhost and 127.0.0.1 (IP addresses as such)."""
    make_self_signed("ocam.test", tmp_path / "c.pem", tmp_path / "k.pem", names=("hub.ocam.example", "10.0.0.5"))
    info = read_certificate((tmp_path / "c.pem").read_bytes())
    assert info.names == ("ocam.test", "hub.ocam.example", "localhost", "10.0.0.5", "127.0.0.1")
    assert info.self_signed and stat.S_IMODE((tmp_path / "c.pem").stat().st_mode) == 0o600


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return authority(tmp_path_factory.mktemp("ca"))


def test_a_certificate_of_the_organisations_ca_passes_with_its_chain(ca):
    cert, key = ca.issue("hub", ["hub.ocam.example", "mx.ocam.example"])
    now = datetime.now(timezone.utc)
    checked = check_pair(cert.read_bytes(), key.read_bytes(), ca.intermediate.read_bytes(), now)
    assert checked.certificate.names == ("hub.ocam.example", "mx.ocam.example")
    assert not checked.certificate.self_signed and "OCAM Test Issuing CA" in checked.certificate.issuer
    assert checked.chain_pem.count(b"BEGIN CERTIFICATE") == 2
    assert 396 <= checked.certificate.days_left(now) <= 397


def _refusal(cert: bytes, key: bytes, chain: bytes | None = None, now: datetime | None = None) -> str:
    with pytest.raises(CertificateRefused) as refused:
        check_pair(cert, key, chain, now or datetime.now(timezone.utc))
    return refused.value.reason


def test_refusals_say_what_is_wrong(ca, tmp_path):
    cert, key = ca.issue("good", ["hub.ocam.example"])
    _other, other_key = ca.issue("other", ["hub.ocam.example"])
    assert "does not match" in _refusal(cert.read_bytes(), other_key.read_bytes())
    old, old_key = ca.issue("old", ["hub.ocam.example"], span=("20200101000000Z", "20200103000000Z"))
    assert "expired on 2020-01-03" in _refusal(old.read_bytes(), old_key.read_bytes())
    assert "valid only from" in _refusal(cert.read_bytes(), key.read_bytes(), now=datetime.now(timezone.utc) - timedelta(days=2))
    client, client_key = ca.issue("client", ["hub.ocam.example"], server_auth=False)
    assert "serverAuth" in _refusal(client.read_bytes(), client_key.read_bytes())
    weak, weak_key = ca.issue("weak", ["hub.ocam.example"], key_kind="rsa1024")
    assert "1024 bits" in _refusal(weak.read_bytes(), weak_key.read_bytes())
    openssl("pkey", "-in", key.name, "-aes256", "-passout", "pass:secret", "-out", "locked.key", cwd=ca.folder)
    assert "passphrase" in _refusal(cert.read_bytes(), (ca.folder / "locked.key").read_bytes())
    assert "no PEM private key" in _refusal(cert.read_bytes(), cert.read_bytes())
    assert "holds no PEM certificate" in _refusal(key.read_bytes(), key.read_bytes())
    elsewhere = authority(tmp_path / "elsewhere")
    assert "did not issue" in _refusal(cert.read_bytes(), key.read_bytes(), elsewhere.intermediate.read_bytes())
    (ca.folder / "bare.ext").write_text("extendedKeyUsage=serverAuth\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "bare.key", "-out",
            "bare.csr", "-subj", "/CN=hub.ocam.example", cwd=ca.folder)
    openssl("x509", "-req", "-in", "bare.csr", "-CA", "intermediate.pem", "-CAkey", "intermediate.key",
            "-CAcreateserial", "-out", "bare.pem", "-days", "30", "-extfile", "bare.ext", cwd=ca.folder)
    assert "names no host" in _refusal((ca.folder / "bare.pem").read_bytes(), (ca.folder / "bare.key").read_bytes())
