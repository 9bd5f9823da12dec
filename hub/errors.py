"""Errors of the hub.

    HubError
    ├── HomeError             the home is missing, incomplete, or would be overwritten
    ├── PartnerError          a partner cannot be registered or updated (with .reason)
    ├── FieldError            a routing field has a value the law does not know
    ├── MessageNotFound       no message with that reference
    ├── UnknownPartner        a report or command names a partner that is not registered
    ├── ReversedPeriod        a report's period ends before it starts
    ├── EmbargoError          an embargo command is refused (signature, holder, decision)
    ├── StatementError        a signed statement is malformed, or not signed by whom the act needs
    ├── RetentionError        a retention act is refused (not due, erased already, a replayed decision)
    ├── RoutingRulesError     the inbound routing rules file is invalid (checked at start-up)
    ├── AccessRefused         an act by no registered member, or outside the member's competence (law Art. 9 §3 5°)
    ├── DueRefused            a due time the law does not allow (past, beyond its urgency's window)
    ├── NotActionable         a duty officer's act names something it cannot act on (no such alert, item ...)
    ├── BackupError           a backup cannot be made, or an archive cannot be restored (with the reason)
    └── LogError              the audit log's tree, a checkpoint, a proof or an entry does not hold (hub/audit)
        ├── NoLogKey          the hub's key cannot sign the log's checkpoints in process (not unprotected Ed25519)
        └── LogCorrupt        the stored tree no longer gives a checkpoint it signed: no new one is signed
"""

from __future__ import annotations

from datetime import date


class HubError(Exception):
    """Base of all hub errors."""


class HomeError(HubError):
    """The home directory is missing, incomplete, or would be overwritten."""


class PartnerError(HubError):
    """A partner or its key cannot be registered or updated."""


class FieldError(HubError):
    """A routing field carries a value outside its accepted set."""

    def __init__(self, field: str, value: str, accepted: tuple[str, ...]) -> None:
        super().__init__(f"invalid {field}: {value!r} (accepted: {', '.join(accepted)})")
        self.field = field
        self.value = value
        self.accepted = accepted


class MessageNotFound(HubError):
    """No message carries that reference."""


class ReversedPeriod(HubError):
    """The report's period ends before it starts."""

    def __init__(self, since: date, until: date) -> None:
        super().__init__(f"the period ends ({until}) before it starts ({since})")
        self.since, self.until = since, until


class UnknownPartner(HubError):
    """The report was asked for a partner that is not registered."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no partner named {name!r}")
        self.name = name


class EmbargoError(HubError):
    """A holder-list change, an opening, a reseal or a joint decision is refused; the message says why."""


class StatementError(HubError):
    """A signed statement of an OCAM act is malformed, or its signature is not a good one by whom the act needs."""


class RetentionError(HubError):
    """A retention trigger or review is refused (no such item, not due, erased already, a replayed decision)."""


class NotActionable(HubError):
    """A duty officer's act names an alert, item or delivery it cannot act on; the message says which."""


class RoutingRulesError(HubError):
    """The routing rules of inbound messages are invalid; the message names the file, the rule and the problem."""


class AccessRefused(HubError):
    """A member (or a key nobody registered) asked for something outside their competence; the message says why.
    The refusal is recorded (access.refused) by whoever raised it."""

    def __init__(self, actor: str, why: str) -> None:
        super().__init__(why)
        self.actor = actor
        self.why = why


class BackupError(HubError):
    """A backup cannot be made (no usable backup key, the store unreadable), or an archive cannot be restored
    (another key, damaged, a member outside the home, a home already there); the message says why."""


class LogError(HubError):
    """The audit log's tree, a checkpoint, a proof or an entry does not hold; the message says what."""


class NoLogKey(LogError):
    """The hub's OpenPGP key is not an unprotected Ed25519 key in its GnuPG home: checkpoints cannot be signed."""


class LogCorrupt(LogError):
    """The stored tree does not reproduce the latest checkpoint: the store was altered; nothing more is signed."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class DueRefused(HubError):
    """A request's due time, or a demand for immediate communication, that the law does not allow (AR Art. 11
    §3, law Art. 6 §1 al. 2): in the past, beyond its urgency's window, without motivation."""
