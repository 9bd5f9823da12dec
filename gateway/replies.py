"""SMTP replies of the gateway, each a named constant with its enhanced status code (RFC 3463)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reply:
    """One SMTP reply: basic code, enhanced code, text a person understands, and a short name for records."""

    code: int
    enhanced: str
    text: str
    name: str

    @property
    def line(self) -> str:
        return f"{self.code} {self.enhanced} {self.text}"

    @property
    def accepted(self) -> bool:
        return self.code < 300

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500

    def format(self, **values: object) -> "Reply":
        """The same reply with its placeholders filled (references, limits)."""
        return Reply(self.code, self.enhanced, self.text.format(**values), self.name)


ACCEPTED = Reply(250, "2.0.0", "Accepted as {reference}; a signed receipt follows", "accepted")
RCPT_OK = Reply(250, "2.1.5", "Recipient ok", "rcpt_ok")
DSN_RECORDED = Reply(250, "2.0.0", "Delivery status notification recorded for {reference}", "dsn_recorded")
DSN_UNRELATED = Reply(550, "5.7.1", "This delivery status notification is about no message of this hub", "dsn_unrelated")
MDN_RECORDED = Reply(250, "2.0.0", "Acknowledgement recorded for {reference}", "mdn_recorded")
MDN_UNRELATED = Reply(550, "5.7.1", "This acknowledgement is about no message the hub sent you", "mdn_unrelated")

# Refusals: the sender must change something (5xx).
UNSIGNED = Reply(550, "5.7.1", "Message is not signed: send it OpenPGP-signed as PGP/MIME (RFC 3156)", "unsigned")
INLINE_PGP = Reply(550, "5.7.1", "Inline PGP is not accepted: switch your client to PGP/MIME (RFC 3156)", "inline_pgp")
BAD_SIGNATURE = Reply(550, "5.7.7", "Signature is invalid: the message was altered after signing", "bad_signature")
UNKNOWN_SIGNER = Reply(550, "5.7.1", "Signing key is not registered for any contact point", "unknown_signer")
EXPIRED_KEY = Reply(550, "5.7.1", "Signing key has expired: have OCAM register your renewed key", "expired_key")
REVOKED_KEY = Reply(550, "5.7.1", "Signing key is revoked: have OCAM register your new key", "revoked_key")
SIGNER_MISMATCH = Reply(550, "5.7.1", "Signer does not match the From address", "signer_mismatch")
CONTENT_OUTSIDE_SIGNED = Reply(550, "5.7.1", "Content outside the signed part is not accepted: sign the whole message", "content_outside_signed")
UNDECRYPTABLE = Reply(550, "5.7.5", "Cannot decrypt: encrypt to the hub's current key", "undecryptable")
MALFORMED = Reply(550, "5.6.0", "Malformed message: {reason}", "malformed")
TOO_DEEP = Reply(550, "5.6.0", "MIME nesting is deeper than {limit} levels", "too_deep")
TOO_MANY_PARTS = Reply(550, "5.6.0", "Message has more than {limit} MIME parts", "too_many_parts")
HEADER_TOO_LONG = Reply(550, "5.6.0", "A header field is longer than {limit} characters", "header_too_long")
TOO_LARGE = Reply(552, "5.3.4", "Message is larger than the {limit} bytes accepted", "too_large")
DECRYPTED_TOO_LARGE = Reply(552, "5.3.4", "Decrypted message is larger than {limit} bytes", "decrypted_too_large")
MALFORMED_SIGNATURE = Reply(
    550, "5.6.0", "Malformed signature: the signature part must be exactly one OpenPGP signature (RFC 3156)",
    "malformed_signature",
)
TOO_COSTLY = Reply(
    550, "5.6.0", "Message cannot be checked within {seconds:g} s: its OpenPGP data makes gpg work too long",
    "too_costly",
)
NO_MESSAGE_ID = Reply(550, "5.6.0", "Message-ID header is missing", "no_message_id")
REPLAY_MESSAGE_ID = Reply(550, "5.7.1", "Already accepted: a message with this Message-ID was received before", "replay")
REPLAY_SIGNATURE = Reply(550, "5.7.1", "Already accepted: a message with this signature was received before", "replay")
FOREIGN_EMBARGO_SOURCE = Reply(
    550, "5.7.1",
    "Foreign embargo (law Art. 12) may only be declared by intelligence, customs or foreign affairs", "embargo_source",
)
BAD_FIELD = Reply(550, "5.6.0", "Invalid {field}: {value!r} (accepted: {accepted})", "bad_field")
NO_SUCH_RECIPIENT = Reply(550, "5.1.1", "No such recipient here: this gateway accepts mail for {address} only", "no_such_recipient")

# Not now: the client should retry (4xx).
CANNOT_VERIFY_NOW = Reply(451, "4.7.0", "Cannot verify the message now, try again later", "gpg_unavailable")
CANNOT_STORE_NOW = Reply(451, "4.3.0", "Cannot store the message now, try again later", "store_unavailable")
DECISION_REFUSED = Reply(550, "5.7.1", "Embargo decision statement refused: {reason}", "decision_refused")
NO_EMBARGO_HOLDERS = Reply(
    451, "4.7.0", "No holders are designated for {kind} embargo yet; the hub cannot seal it, try again later",
    "embargo_no_holders",
)
LOCAL_ERROR = Reply(451, "4.3.0", "Local error while processing, try again later", "local_error")
TOO_MANY_CONNECTIONS = Reply(421, "4.7.0", "Too many connections, try again later", "too_many_connections")

# aiosmtpd's own replies, given enhanced codes and plain words.
STARTTLS_FIRST = Reply(530, "5.7.0", "Must issue a STARTTLS command first", "starttls_required")
LINE_TOO_LONG = Reply(500, "5.5.2", "Line too long (RFC 5321 4.5.3.1.6): encode long lines", "line_too_long")
