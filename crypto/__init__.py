"""OpenPGP (python-gnupg), PGP/MIME (RFC 3156), sealing at rest and TLS certificates."""

from crypto.mime.compose import encrypt_entity, header_block, sign_entity
from crypto.errors import (
    CiphertextMalformed, ContentOutsideSignedPart, CryptoError, DecryptionFailed, GpgOutputTooLarge, GpgTimedOut,
    GpgUnavailable, HeaderBlockTooLarge, HeaderTooLong, InlinePgp, KeyImportError, KeyUnusable, MalformedMime,
    MimeError, NestingTooDeep, SealError, TooManyHeaderFields, TooManyParts, Unsigned,
)
from crypto.openpgp.gpg import Decrypted, Gpg, KeyInfo, SignatureCheck
from crypto.mime.reader import Part
from crypto.mime.pgpmime import Envelope, Limits, SignedEntity, analyse, analyse_inner, first_text, payload_headers
from crypto.seal import Sealed, StorageKey, WrappingKey
from crypto.tls import make_self_signed

__all__ = [
    "CiphertextMalformed", "ContentOutsideSignedPart", "CryptoError", "Decrypted", "DecryptionFailed",
    "Envelope", "Gpg", "GpgOutputTooLarge", "GpgTimedOut", "GpgUnavailable", "HeaderBlockTooLarge",
    "HeaderTooLong", "InlinePgp", "KeyImportError", "KeyInfo", "KeyUnusable", "Limits", "MalformedMime",
    "MimeError", "NestingTooDeep", "Part", "SealError", "Sealed", "SignatureCheck", "SignedEntity", "StorageKey",
    "TooManyHeaderFields", "TooManyParts", "Unsigned", "WrappingKey", "analyse", "analyse_inner", "encrypt_entity", "first_text",
    "header_block", "make_self_signed", "payload_headers", "sign_entity",
]
