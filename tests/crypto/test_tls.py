"""Self-signed certificate for the gateway."""

from __future__ import annotations

import hashlib
import ipaddress
import ssl
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from crypto.tls import make_self_signed


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
