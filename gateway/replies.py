"""SMTP replies of the gateway, each a named constant with its enhanced status code (RFC 3463)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PRINTABLE = re.compile(r"[^\x20-\x7e]")
_MAX_TEXT = 400  # a reply line is at most 512 octets with its code and CRLF


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
        """The same reply with its placeholders filled (references, limits). A reply is one line of printable
        ASCII (RFC 5321 §4.2, §4.5.3.1.5): whatever a value brings from the message (8-bit, CR, LF, control
        characters) is shown as "?", and the text is cut to fit the line."""
        text = _PRINTABLE.sub("?", self.text.format(**values))
        return Reply(self.code, self.enhanced, text[:_MAX_TEXT], self.name)


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
SIGNATURE_EXPIRED = Reply(550, "5.7.1", "Signature has expired: sign the message again, without an expiry",
                          "signature_expired")
SIGNATURE_FROM_FUTURE = Reply(550, "5.7.1", "Signature is dated {signed}, ahead of the hub's clock: check the "
                              "sending computer's clock and sign again", "signature_from_future")
SIGNATURE_BEFORE_KEY = Reply(550, "5.7.1", "Signature is dated before its key was made (or the key ahead of the "
                             "hub's clock): check the sending computer's clock and sign again", "signature_before_key")
SIGNATURE_TOO_OLD = Reply(550, "5.7.1", "Signature was made {signed}, more than {limit} before it reached the hub: "
                          "sign the message again", "signature_too_old")
UNKNOWN_SIGNER = Reply(550, "5.7.1", "Signing key is not registered for any contact point", "unknown_signer")
EXPIRED_KEY = Reply(550, "5.7.1", "Signing key has expired: have OCAM register your renewed key", "expired_key")
REVOKED_KEY = Reply(550, "5.7.1", "Signing key is revoked: have OCAM register your new key", "revoked_key")
SIGNER_MISMATCH = Reply(550, "5.7.1", "Signer does not match the From address", "signer_mismatch")
CONTENT_OUTSIDE_SIGNED = Reply(550, "5.7.1", "Content outside the signed part is not accepted: sign the whole message", "content_outside_signed")
UNDECRYPTABLE = Reply(550, "5.7.5", "Cannot decrypt: encrypt to the hub's current key", "undecryptable")
RETIRED_KEY = Reply(550, "5.7.5", "Encrypted to a retired key of the hub: encrypt to its current key, which the "
                    "hub announced", "retired_key")
MALFORMED = Reply(550, "5.6.0", "Malformed message: {reason}", "malformed")
TOO_DEEP = Reply(550, "5.6.0", "MIME nesting is deeper than {limit} levels", "too_deep")
TOO_MANY_PARTS = Reply(550, "5.6.0", "Message has more than {limit} MIME parts", "too_many_parts")
HEADER_TOO_LONG = Reply(550, "5.6.0", "A header field is longer than {limit} characters", "header_too_long")
HEADER_BLOCK_TOO_LARGE = Reply(
    550, "5.6.0", "The header section is larger than {limit} bytes, or no empty line ends it", "header_block_too_large")
TOO_MANY_HEADER_FIELDS = Reply(550, "5.6.0", "A header section has more than {limit} fields", "too_many_header_fields")
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
BAD_MESSAGE_ID = Reply(
    550, "5.6.0", "Message-ID is not one msg-id <left@right> of at most {limit} characters (RFC 5322 3.6.4)",
    "bad_message_id")
NOTIFICATION_TOO_LARGE = Reply(
    552, "5.3.4", "A delivery status notification is accepted up to {limit} bytes: return the headers only",
    "notification_too_large")
REPLAY_MESSAGE_ID = Reply(550, "5.7.1", "Already accepted: a message with this Message-ID was received before", "replay")
REPLAY_SIGNATURE = Reply(550, "5.7.1", "Already accepted: a message with this signature was received before", "replay")
FOREIGN_EMBARGO_SOURCE = Reply(
    550, "5.7.1",
    "Foreign embargo (law Art. 12) may only be declared by intelligence, customs or foreign affairs", "embargo_source",
)
EMBARGO_UNPROTECTED = Reply(
    550, "5.7.1",
    "Embargo declared only in the unsigned outer header, which anyone on the path could add: declare it inside the "
    "signed part (a protected header, or an 'Embargo:' first line of the body) (law Art. 11-12)", "embargo_unprotected",
)
EMBARGO_CONFIRMATION_REFUSED = Reply(
    550, "5.7.1", "Judicial embargo confirmation refused (law Art. 11): {reason}", "embargo_confirmation_refused")
BAD_FIELD = Reply(550, "5.6.0", "Invalid {field}: {value!r} (accepted: {accepted})", "bad_field")
REPLY_BY_PASSED = Reply(
    550, "5.6.0", "Reply-By {reply_by} is not after the hub's receipt time {now} (AR Art. 7): name a time to come",
    "reply_by_passed")
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
TOO_MANY_FROM_ADDRESS = Reply(
    421, "4.7.0", "Too many connections from your address (at most {limit}), try again later", "too_many_from_address")
MAKING_ROOM = Reply(421, "4.7.0", "Closing the session that waited longest for STARTTLS, to make room", "making_room")
STARTTLS_TOO_LATE = Reply(421, "4.7.0", "No STARTTLS within {seconds} seconds, closing", "starttls_too_late")
IDLE_TIMEOUT = Reply(421, "4.4.2", "Idle for {seconds} seconds, closing", "idle_timeout")
TOO_MANY_ERRORS = Reply(421, "4.7.0", "Too many errors in this session ({limit}), closing", "too_many_errors")

# aiosmtpd's own replies, given enhanced codes and plain words.
STARTTLS_FIRST = Reply(530, "5.7.0", "Must issue a STARTTLS command first", "starttls_required")
LINE_TOO_LONG = Reply(500, "5.5.2", "Line too long (RFC 5321 4.5.3.1.6): encode long lines", "line_too_long")
AUTH_NOT_OFFERED = Reply(
    502, "5.5.1", "AUTH is not offered: send without logging in, your OpenPGP signature identifies you",
    "auth_not_offered")
