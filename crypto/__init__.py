"""OpenPGP (python-gnupg), PGP/MIME (RFC 3156), sealing at rest and TLS certificates."""

from crypto.compose import encrypt_entity, header_block, sign_entity
from crypto.errors import (
    ContentOutsideSignedPart, CryptoError, DecryptionFailed, GpgUnavailable, HeaderTooLong,
    InlinePgp, KeyImportError, KeyUnusable, MalformedMime, MimeError, NestingTooDeep, SealError,
    TooManyParts, Unsigned,
)
from crypto.gpg import Decrypted, Gpg, KeyInfo, SignatureCheck
from crypto.pgpmime import (
    Envelope, Limits, SignedEntity, analyse, analyse_inner, first_text, header_fields, payload_headers,
)
from crypto.seal import Sealed, StorageKey, WrappingKey
from crypto.tls import make_self_signed

__all__ = [
    "ContentOutsideSignedPart", "CryptoError", "Decrypted", "DecryptionFailed", "Envelope", "Gpg",
    "GpgUnavailable", "HeaderTooLong", "InlinePgp", "KeyImportError", "KeyInfo", "KeyUnusable",
    "Limits", "MalformedMime", "MimeError", "NestingTooDeep", "SealError", "Sealed", "SignatureCheck",
    "SignedEntity", "StorageKey", "TooManyParts", "Unsigned", "WrappingKey", "analyse", "analyse_inner",
    "encrypt_entity", "first_text", "header_block", "header_fields", "make_self_signed", "payload_headers", "sign_entity",
]
