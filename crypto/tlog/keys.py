"""Note and cosignature keys taken from OpenPGP keys: the very Ed25519 key a hub or a witness signs its mail with.

The public key of a note key is the 32 bytes of the OpenPGP key's Ed25519 point (RFC 9580 EdDSA, without
its 0x40 prefix); its name is given (the log's origin for the hub, the witness's address for a witness).
Whoever holds the OpenPGP public key (HUB.asc) therefore holds the note key: key id = SHA-256(name ||
0x0A || 0x01 || public)[:4] (0x04 for a cosigner). The messages differ in kind, so one key serves both:
an OpenPGP signature signs a 64-byte digest, a note signs its text, a cosignature ``cosignature/v1\\n...``.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ed25519

from crypto.openpgp.gpg import Gpg

from .notes import CosignatureVerifier, Cosigner, Signer, Verifier


def _ed25519_publics(gpg: Gpg, primary: str) -> list[bytes]:
    return [k.public.public_bytes_raw() for k in gpg.signing_keys_of(primary)
            if isinstance(k.public, ed25519.Ed25519PublicKey)]


def _ed25519_private(gpg: Gpg, primary: str) -> ed25519.Ed25519PrivateKey | None:
    signer = gpg.secret_signer(primary)
    return signer.ed25519() if signer is not None else None


def note_verifiers(gpg: Gpg, primary: str, name: str) -> list[Verifier]:
    """The note keys of *primary*'s Ed25519 signing keys that gpg holds valid in *gpg*'s home."""
    return [Verifier(name, public) for public in _ed25519_publics(gpg, primary)]


def note_signer(gpg: Gpg, primary: str, name: str) -> Signer | None:
    """The home's unprotected Ed25519 signing key of *primary* as a note key, or None."""
    private = _ed25519_private(gpg, primary)
    return Signer(name, private) if private is not None else None


def cosignature_verifiers(gpg: Gpg, primary: str, name: str) -> list[CosignatureVerifier]:
    return [CosignatureVerifier(name, public) for public in _ed25519_publics(gpg, primary)]


def cosigner(gpg: Gpg, primary: str, name: str) -> Cosigner | None:
    private = _ed25519_private(gpg, primary)
    return Cosigner(name, private) if private is not None else None
