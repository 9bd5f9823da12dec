"""TLS certificates for the SMTP gateway: the self-signed one `init` makes (ECDSA P-256), what a certificate says
(names, validity, fingerprint), and the checks a certificate from an organisation's CA passes before it is used."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from crypto.errors import CertificateRefused

LOOPBACK_NAMES = ("localhost", "127.0.0.1")
MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class Certificate:
    """What a certificate says about itself, for the operator and the dashboard (nothing secret)."""

    fingerprint: str  # SHA-256 of the DER certificate, hex
    subject: str
    issuer: str
    names: tuple[str, ...]  # subjectAltName: DNS names, then IP addresses
    not_before: datetime
    not_after: datetime
    self_signed: bool

    def days_left(self, now: datetime) -> float:
        return (self.not_after - now).total_seconds() / 86400

    def colon_fingerprint(self) -> str:
        """AA:BB:... as openssl, browsers and mutt show it."""
        return ":".join(self.fingerprint[i:i + 2] for i in range(0, len(self.fingerprint), 2)).upper()


def _san(names: list[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def make_self_signed(common_name: str, cert_path: Path, key_path: Path, *, names: tuple[str, ...] = (),
                     days: int = 825) -> str:
    """Write a self-signed certificate for *common_name*, *names* (host names or IP addresses), localhost and
    127.0.0.1, and its key, both 0600; return the certificate's SHA-256 hex fingerprint."""
    cert_path, key_path = Path(cert_path), Path(key_path)
    for p in (cert_path, key_path):
        if p.exists():
            raise FileExistsError(f"{p}: refusing to overwrite")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(_san([common_name, *names, *LOOPBACK_NAMES])), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    for path, data in ((key_path, key_pem), (cert_path, cert.public_bytes(serialization.Encoding.PEM))):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    return cert.fingerprint(hashes.SHA256()).hex()


def describe(cert: x509.Certificate) -> Certificate:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(san.get_values_for_type(x509.DNSName)) + \
            tuple(str(a) for a in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        names = ()
    return Certificate(
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(), subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(), names=names, not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc, self_signed=cert.issuer == cert.subject)


def _certificates(pem: bytes, what: str) -> list[x509.Certificate]:
    try:
        found = x509.load_pem_x509_certificates(pem)
    except ValueError:
        found = []
    if not found:
        raise CertificateRefused(f"{what} holds no PEM certificate")
    return found


def read_certificate(pem: bytes) -> Certificate:
    """The first certificate of a PEM file (the one a server presents)."""
    return describe(_certificates(pem, "the file")[0])


@dataclass(frozen=True)
class CheckedPair:
    """A certificate and key that passed :func:`check_pair`, with the chain to present after the certificate."""

    certificate: Certificate
    chain_pem: bytes  # the certificate, then its intermediates, PEM
    key_pem: bytes


def _public(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_pair(cert_pem: bytes, key_pem: bytes, chain_pem: bytes | None, now: datetime) -> CheckedPair:
    """Refuse (CertificateRefused, with the reason) a server certificate that the gateway could not present:
    a key that is not the certificate's, protected by a passphrase (the gateway starts unattended) or too
    weak; a certificate not yet or no longer valid, naming no host (subjectAltName: clients ignore the CN),
    not for TLS servers; intermediates that do not issue it, in order."""
    certs = _certificates(cert_pem, "the certificate file")
    leaf, chain = certs[0], certs[1:] + (_certificates(chain_pem, "the chain file") if chain_pem else [])
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise CertificateRefused("the key is protected by a passphrase: the gateway loads it unattended; "
                                 "give it unprotected (the home keeps it 0600)") from None
    except ValueError:
        raise CertificateRefused("the key file holds no PEM private key") from None
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < MIN_RSA_BITS:
        raise CertificateRefused(f"the RSA key has {key.key_size} bits; at least {MIN_RSA_BITS}")
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise CertificateRefused("the key is neither RSA nor ECDSA (what mail clients accept for TLS)")
    if _public(key.public_key()) != _public(leaf.public_key()):
        raise CertificateRefused("the key does not match the certificate (another key pair)")
    info = describe(leaf)
    if now < info.not_before:
        raise CertificateRefused(f"the certificate is valid only from {info.not_before:%Y-%m-%d %H:%M} UTC")
    if now >= info.not_after:
        raise CertificateRefused(f"the certificate expired on {info.not_after:%Y-%m-%d %H:%M} UTC")
    if not info.names:
        raise CertificateRefused("the certificate names no host (no subjectAltName): clients ignore the "
                                 "common name")
    try:
        usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.SERVER_AUTH not in usage:
            raise CertificateRefused("the certificate is not for TLS servers (its extended key usage lacks "
                                     "serverAuth)")
    except x509.ExtensionNotFound:
        pass
    for child, parent in zip([leaf, *chain], chain):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            raise CertificateRefused(f"{parent.subject.rfc4514_string()} in the chain did not issue "
                                     f"{child.subject.rfc4514_string()} (give the intermediates in order, "
                                     f"the certificate's issuer first)") from None
        if now >= parent.not_valid_after_utc:
            raise CertificateRefused(f"the chain's {parent.subject.rfc4514_string()} expired on "
                                     f"{parent.not_valid_after_utc:%Y-%m-%d} UTC")
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [leaf, *chain])
    return CheckedPair(info, pem, key_pem)
