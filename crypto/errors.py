"""Errors raised by the crypto package, named by the condition they report.

    CryptoError
    ├── GpgUnavailable            the engine failed (crash, agent, timeout): answer 4xx, retry later
    │   └── GpgTimedOut           .cpu_seconds: past the time limit; .busy: gpg was working all along
    ├── GpgOutputTooLarge         .stream, .limit: gpg wrote more than the call allows (it was stopped)
    ├── DecryptionFailed          .reason: "no_secret_key", "corrupt", "passphrase_only", "no_data"
    ├── CiphertextMalformed       .reason: an encrypted part gpg would labour over (refused before gpg)
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
        ├── HeaderTooLong           one field over the line limit
        ├── HeaderBlockTooLarge     a header section over its byte limit (or no empty line ending it)
        └── TooManyHeaderFields     a header section with more fields than the limit
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base of every error of the crypto package."""


class GpgUnavailable(CryptoError):
    """The OpenPGP engine failed; the operation may succeed later."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class GpgTimedOut(GpgUnavailable):
    """gpg was still running at the time limit and was killed.

    ``cpu_seconds`` is the CPU time gpg had used by then (None where it cannot be read). ``busy``: it had
    used at least BUSY_CPU_SECONDS, or a quarter of the limit when that is less. No real message costs gpg
    more than a fraction of a second (a 25 MB one: some 0.3 s), so that much work was the input's own
    cost, and a retry would cost as much again. Less, and gpg was waiting for something of the hub's (its
    agent, a lock) or did not get the CPU (a loaded machine): worth a retry.
    """

    BUSY_CPU_SECONDS = 2.0
    BUSY_SHARE = 0.25

    def __init__(self, verb: str, seconds: float, cpu_seconds: float | None) -> None:
        used = f", {cpu_seconds:.1f} s of CPU" if cpu_seconds is not None else ""
        super().__init__(f"gpg {verb} timed out after {seconds:g} s{used}")
        self.seconds = seconds
        self.cpu_seconds = cpu_seconds

    @property
    def busy(self) -> bool:
        return self.cpu_seconds is not None and \
            self.cpu_seconds >= min(self.BUSY_CPU_SECONDS, self.BUSY_SHARE * self.seconds)


class GpgOutputTooLarge(CryptoError):
    """gpg wrote more than the call allows on *stream* ("output", or "status" for its status lines); it was
    stopped there. What expands that far is the input (compressed data, repeated packets), never the hub."""

    def __init__(self, verb: str, stream: str, limit: int) -> None:
        super().__init__(f"gpg {verb} wrote more than {limit} bytes of {stream}")
        self.stream = stream
        self.limit = limit


class CiphertextMalformed(CryptoError):
    """An encrypted message whose OpenPGP framing gpg would labour over (more session keys than any real
    message carries); refused before gpg reads it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


class HeaderBlockTooLarge(MimeError):
    default_reason = "a header section of the message is too large"


class TooManyHeaderFields(MimeError):
    default_reason = "a header section of the message has too many fields"
