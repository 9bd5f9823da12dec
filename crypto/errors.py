"""Errors raised by the crypto package, named by the condition they report.

    CryptoError
    ├── GpgUnavailable            the engine failed (crash, agent, timeout): answer 4xx, retry later
    ├── DecryptionFailed          .reason: "no_secret_key", "corrupt", "passphrase_only", "no_data"
    ├── KeyImportError            no usable key in the data
    ├── KeyUnusable               .fingerprint, .reason: a signer/recipient key is missing, expired, revoked
    ├── SealError                 sealed item tampered with, or the wrong storage key
    ├── PacketError               OpenPGP data this package does not read in process (gpg decides)
    ├── NoteError                 a signed note, checkpoint or log proof that does not parse (crypto/tlog)
    └── MimeError                 .reason: a short sentence for the sender
        ├── Unsigned
        ├── InlinePgp
        ├── ContentOutsideSignedPart
        ├── MalformedMime
        ├── NestingTooDeep
        ├── TooManyParts
        └── HeaderTooLong
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base of every error of the crypto package."""


class GpgUnavailable(CryptoError):
    """The OpenPGP engine failed; the operation may succeed later."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class DecryptionFailed(CryptoError):
    """The data could not be decrypted with the keys of this home."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class KeyImportError(CryptoError):
    """The data held no key that could be imported."""


class KeyUnusable(CryptoError):
    """A key asked for (signer or recipient) is missing or cannot be used."""

    def __init__(self, fingerprint: str, reason: str) -> None:
        super().__init__(f"{fingerprint}: {reason}")
        self.fingerprint = fingerprint
        self.reason = reason


class SealError(CryptoError):
    """A sealed item could not be opened: tampered with, or sealed under another key."""


class PacketError(CryptoError, ValueError):
    """OpenPGP data malformed, or of a kind the in-process reader leaves to gpg."""


class NoteError(CryptoError, ValueError):
    """A signed note, checkpoint, cosignature or log proof is malformed (C2SP formats, crypto/tlog)."""


class MimeError(CryptoError):
    """The message structure is refused; ``reason`` tells the sender why."""

    default_reason = "the message structure is not acceptable"

    def __init__(self, reason: str | None = None) -> None:
        self.reason = reason or self.default_reason
        super().__init__(self.reason)


class Unsigned(MimeError):
    default_reason = "message is not signed: send it PGP/MIME-signed (RFC 3156)"


class InlinePgp(MimeError):
    default_reason = "inline PGP is not accepted: send the message as PGP/MIME (RFC 3156)"


class ContentOutsideSignedPart(MimeError):
    default_reason = "the message carries content outside the signed part: send only the signed message"


class MalformedMime(MimeError):
    default_reason = "the MIME structure of the message is malformed"


class NestingTooDeep(MimeError):
    default_reason = "the MIME structure is nested too deeply"


class TooManyParts(MimeError):
    default_reason = "the message has too many MIME parts"


class HeaderTooLong(MimeError):
    default_reason = "a header field of the message is too long"
