"""Admission: the verdict at SMTP time — verify, bind signer to partner, classify, store durably, or refuse."""

from __future__ import annotations

import hashlib
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import getaddresses

from crypto import (
    CiphertextMalformed, ContentOutsideSignedPart, Decrypted, DecryptionFailed, Gpg, GpgOutputTooLarge,
    GpgTimedOut, GpgUnavailable, HeaderBlockTooLarge, HeaderTooLong, InlinePgp, MimeError, NestingTooDeep, Part,
    SignatureCheck, StorageKey, TooManyHeaderFields, TooManyParts, Unsigned,
)
from crypto.mime import pgpmime
from crypto.mime.original import outer_headers
from gateway import Reply, Submission
from gateway import replies as R
from store import Conflict, Database, StoreUnavailable
from store.vocabulary import Action, DeliveryState, MessageState, Queue, ReceiptStatus

from hub import audit, vault
from . import dsn, links, msgid
from hub.embargo import sealing as embargo_seal
from hub.embargo import decisions as embargo_decisions, declarations
from hub.errors import EmbargoError
from hub.clock import Clock
from hub.deadlines import clocks, windows
from hub.deadlines.windows import reply_by
from hub.errors import FieldError
from hub.registry.partners import GOVERNMENT, HEADED
from hub.settings import DeadlinesSection, HubSection
from .fields import RoutingFields, extract
from hub.transport.priorities import priority_of
from hub.references import next_reference
from hub.retention import items as retention
from hub.transport.protocol import Transport

INTAKE_QUEUE = Queue.INTAKE

log = logging.getLogger(__name__)

_SIGNATURE_REPLIES = {
    "bad": R.BAD_SIGNATURE,
    "no_public_key": R.UNKNOWN_SIGNER,
    "expired_key": R.EXPIRED_KEY,
    "revoked_key": R.REVOKED_KEY,
    "expired_signature": R.SIGNATURE_EXPIRED,
    "time_conflict": R.SIGNATURE_BEFORE_KEY,
    "error": R.BAD_SIGNATURE,
    "malformed": R.MALFORMED_SIGNATURE,
}


class Refused(Exception):
    """Internal: the message is refused with *reply*; *detail* goes to the audit log only."""

    def __init__(self, reply: Reply, **detail: object) -> None:
        super().__init__(reply.line)
        self.reply = reply
        self.detail = detail


@dataclass(frozen=True)
class Verified:
    """What verification established about a message."""

    entity: bytes          # the signed (and decrypted) MIME entity
    content: Part          # the same entity as read: protected headers, text, parts
    check: SignatureCheck
    encrypted: bool
    cleartext: bytes | None = None  # an encrypted message's whole decrypted MIME entity (signature included)


@contextmanager
def _unreadable(what: str):
    """Input that a reader of its bytes still fails on (a codec, a value parser) is refused with 5xx, never
    answered 4xx: the sender would retry it for days. The traceback is logged for the developers."""
    try:
        yield
    except (ValueError, LookupError, RecursionError) as exc:
        log.warning("admission: %s raised %s on a message; refused as unreadable", what, type(exc).__name__,
                    exc_info=True)
        raise Refused(R.MALFORMED.format(reason=f"the hub cannot read its {what}"), error=type(exc).__name__) from exc


class Admission:
    """Called by the gateway (in a worker thread) with each submission; returns the SMTP reply."""

    def __init__(self, *, db: Database, gpg: Gpg, storage_key: StorageKey, clock: Clock,
                 limits: pgpmime.Limits, transport: Transport, signature_skew: timedelta,
                 max_signature_age: timedelta, deadlines: DeadlinesSection,
                 max_notification_bytes: int = 1024 * 1024, hub: HubSection | None = None) -> None:
        self.db = db
        self.gpg = gpg
        self.storage_key = storage_key
        self.clock = clock
        self.limits = limits
        self.transport = transport
        self.signature_skew = signature_skew
        self.max_signature_age = max_signature_age
        self.max_notification_bytes = max_notification_bytes
        self.deadlines = deadlines
        self.hub = hub  # the hub's keys (hub-key rotate): mail encrypted only to a retired one is refused

    def __call__(self, submission: Submission) -> Reply:
        try:
            reply = self._admit(submission)
        except Refused as refused:
            self.record_refusal(submission.peer, submission.mail_from, refused.reply, **refused.detail)
            return refused.reply
        except GpgUnavailable as exc:
            log.warning("admission: gpg unavailable (%s); answering 4xx to %s", type(exc).__name__, submission.peer)
            self.record_refusal(submission.peer, submission.mail_from, R.CANNOT_VERIFY_NOW)
            return R.CANNOT_VERIFY_NOW
        except StoreUnavailable:
            log.warning("admission: store unavailable; answering 4xx to %s", submission.peer)
            return R.CANNOT_STORE_NOW
        self.transport.notify(INTAKE_QUEUE)
        return reply

    # -- the verdict -------------------------------------------------------------------------

    def _admit(self, submission: Submission) -> Reply:
        # One reading of the bytes, under the same limits whatever the branch: the structure the signature
        # is checked on is the one every header below comes from.
        top = self._read(submission.raw)
        if submission.mail_from.strip("<>") == "" and not pgpmime.is_pgp_mime(top):
            # The null reverse-path carries notifications (RFC 5321 §4.5.5); a signed MDN goes the normal way.
            return self._notification(submission, top)
        verified = self._verify(top)
        check = verified.check
        with self.db.reader() as uow:
            partner = uow.partners.standing(check.primary_fingerprint or "")
            recipient = uow.recipients.by_fingerprint(check.primary_fingerprint or "") if partner is None else None
        if partner is None and recipient is not None:
            return self._recipient_acknowledgement(top, verified, recipient.name, recipient.email)
        if partner is None:
            raise Refused(R.UNKNOWN_SIGNER, signer=check.primary_fingerprint)
        now = self.clock.now()
        if partner.key_revoked:
            raise Refused(R.REVOKED_KEY, signer=check.primary_fingerprint, partner=partner.name)
        if partner.key_expires_at is not None and partner.key_expires_at <= now:
            raise Refused(R.EXPIRED_KEY, signer=check.primary_fingerprint, partner=partner.name)
        with _unreadable("headers"):
            sender = _single_address(top.header("from"))
            if sender is None or sender != partner.email:
                raise Refused(R.SIGNER_MISMATCH, signer=check.primary_fingerprint, partner=partner.name)
            outer = list(top.headers)
            payload = verified.content.decoded_headers()  # the protected headers (RFC 9788)
            protected_from = _single_address(next((v for k, v in payload if k.lower() == "from"), None))
            if protected_from is not None and protected_from != partner.email:
                raise Refused(R.SIGNER_MISMATCH, signer=check.primary_fingerprint, partner=partner.name,
                              protected=True)
            message_id = self._message_id(top, partner.name)
            fields = self._fields(outer, payload, verified.content, partner.name)
            refers_to = links.extract(outer, payload, verified.content)
            decision = (embargo_decisions.statement_in(verified.content.first_text())
                        if embargo_decisions.TITLE.encode() in verified.entity else None)
            confirmation = (declarations.statement_in(verified.content.first_text())
                            if declarations.TITLE.encode() in verified.entity else None)
        named = fields.value("reply-by")
        if named is not None and reply_by(named) <= now:
            # AR Art. 7: a delay the requester names runs from its request; one that ended before it arrived is none.
            raise Refused(R.REPLY_BY_PASSED.format(reply_by=named, now=_utc(now)), partner=partner.name)
        embargo = fields.value("embargo")
        if embargo and fields.fields["embargo"].source != "protected":  # AR Art. 15 al. 1: declared, and signed
            raise Refused(R.EMBARGO_UNPROTECTED, partner=partner.name, embargo=embargo)
        if embargo == "foreign" and partner.kind not in HEADED:
            raise Refused(R.FOREIGN_EMBARGO_SOURCE, partner=partner.name, partner_kind=partner.kind)
        signature_digest = check.identity(verified.entity)  # the same signature, whatever bytes carried it
        sealed = (self._seal_to_holders(embargo, submission.raw, verified, partner.name,
                                        partner.kind == embargo_decisions.FEDERAL_PROSECUTOR) if embargo else None)
        return self._store(submission, partner_id=partner.id, partner_name=partner.name,
                           government=partner.kind == GOVERNMENT, message_id=message_id,
                           signature_digest=signature_digest, verified=verified, fields=fields, refers_to=refers_to,
                           sealed=sealed, decision=decision, confirmation=confirmation)

    def _seal_to_holders(self, kind: str, raw: bytes, verified: Verified, partner: str,
                         prosecutor: bool) -> embargo_seal.Seal:
        """Embargoed content is encrypted to the holders of its kind before anything is stored (law Art. 11-12
        al. 2): the received bytes, or for an encrypted message its outer headers and decrypted entity (the
        hub-readable ciphertext is never kept). Nobody to seal to: 4xx, so the sender retries, and an alert."""
        content = raw if verified.cleartext is None else outer_headers(raw) + verified.cleartext
        try:
            with self.db.reader() as uow:
                return embargo_seal.seal(self.gpg, uow, kind, content, now=self.clock.now(), declared_by=partner,
                                         by_prosecutor=prosecutor)
        except embargo_seal.NoHolders:
            try:
                with self.db.unit_of_work() as uow:
                    audit.record(uow, self.clock, Action.ALERT_EMBARGO_NO_HOLDERS, actor=partner, kind=kind)
                    uow.commit()
            except StoreUnavailable:
                pass
            raise Refused(R.NO_EMBARGO_HOLDERS.format(kind=kind), partner=partner, kind=kind) from None

    def _read(self, raw: bytes) -> Part:
        with _unreadable("structure"):
            try:
                return pgpmime.read(raw, self.limits)
            except MimeError as exc:
                raise Refused(_mime_reply(exc, self.limits), mime=exc.reason) from exc

    def _verify(self, top: Part) -> Verified:
        with _unreadable("signature"):
            try:
                envelope = pgpmime.classify(top)
                if envelope.kind == "encrypted":
                    return self._decrypt_and_verify(envelope.ciphertext or b"")
                signed = envelope.signed
                assert signed is not None
                check = self.gpg.verify_detached(signed.signed_bytes, signed.signature)
            except MimeError as exc:
                raise Refused(_mime_reply(exc, self.limits), mime=exc.reason) from exc
            except GpgOutputTooLarge as exc:  # expanded by the input (compression, repeated packets): permanent
                reply = (R.DECRYPTED_TOO_LARGE.format(limit=exc.limit) if exc.stream == "output" else
                         R.MALFORMED.format(reason="its OpenPGP data repeats packets past any real message"))
                raise Refused(reply, gpg=str(exc)) from exc
            except GpgTimedOut as exc:
                if not exc.busy:  # gpg was waiting (agent, locks, a loaded machine): the hub's trouble, 4xx
                    raise
                # gpg worked the whole time limit on this input: a retry would cost as much again (never 4xx).
                raise Refused(R.TOO_COSTLY.format(seconds=exc.seconds), gpg=str(exc)) from exc
        return self._checked(Verified(signed.signed_bytes, signed.entity, check, encrypted=False))

    def _decrypt_and_verify(self, ciphertext: bytes) -> Verified:
        try:
            decrypted = self.gpg.decrypt(ciphertext)
        except DecryptionFailed as exc:
            raise Refused(R.UNDECRYPTABLE, decrypt=exc.reason) from exc
        except CiphertextMalformed as exc:
            raise Refused(R.MALFORMED.format(reason=exc.reason), decrypt="malformed") from exc
        if self._to_retired_key(decrypted):
            raise Refused(R.RETIRED_KEY, decrypt="retired_key", key=decrypted.key)
        inner = pgpmime.read(decrypted.plaintext, self.limits)
        if inner.content_type == "multipart/signed":  # encapsulated: sign, then encrypt
            signed = pgpmime.signed_part(inner)
            check = self.gpg.verify_detached(signed.signed_bytes, signed.signature)
            return self._checked(Verified(signed.signed_bytes, signed.entity, check, encrypted=True,
                                          cleartext=decrypted.plaintext))
        if decrypted.signature is None:
            raise Refused(R.UNSIGNED, encrypted=True)
        return self._checked(Verified(decrypted.plaintext, inner, decrypted.signature, encrypted=True,
                                      cleartext=decrypted.plaintext))

    def _to_retired_key(self, decrypted: Decrypted) -> bool:
        """Opened by a key of the hub retired after its rotation's overlap, and not encrypted to the current one."""
        if self.hub is None or decrypted.key is None or decrypted.key not in self.hub.retired_keys(self.clock.now()):
            return False
        current = self.gpg.key(self.hub.key_fingerprint)
        return not {f[-16:] for f in (current.subkeys if current else ())} & set(decrypted.to)

    def _checked(self, verified: Verified) -> Verified:
        """A good signature made now, by the hub's clock: not ahead of it by more than the clock skew
        allowed, nor older than the oldest signature accepted (else a signed message could be held back,
        or dated ahead, and submitted later as new, with a fresh deadline)."""
        check = verified.check
        if not check.valid:
            reply = _SIGNATURE_REPLIES.get(check.status, R.BAD_SIGNATURE)
            raise Refused(reply, signature=check.status, gpg=check.detail, signer=check.primary_fingerprint)
        now, signed = self.clock.now(), check.signed_at
        if signed is None:
            raise Refused(R.BAD_SIGNATURE, signature="no signing time", gpg=check.detail,
                          signer=check.primary_fingerprint)
        if signed > now + self.signature_skew:
            raise Refused(R.SIGNATURE_FROM_FUTURE.format(signed=_utc(signed)), signer=check.primary_fingerprint,
                          signed_at=signed.isoformat(), ahead_seconds=int((signed - now).total_seconds()))
        if signed < now - self.max_signature_age:
            raise Refused(R.SIGNATURE_TOO_OLD.format(signed=_utc(signed), limit=_duration(self.max_signature_age)),
                          signer=check.primary_fingerprint, signed_at=signed.isoformat())
        return verified

    @staticmethod
    def _message_id(top: Part, partner: str) -> str:
        """The message's msg-id, the only part of its (unsigned) Message-ID field the receipt will quote."""
        value = top.header("message-id")
        if not value:
            raise Refused(R.NO_MESSAGE_ID, partner=partner)
        found = msgid.single(value)
        if found is None:
            raise Refused(R.BAD_MESSAGE_ID.format(limit=msgid.MAX_LENGTH), partner=partner)
        return found

    def _fields(self, outer: list[tuple[str, str]], payload: list[tuple[str, str]], content: Part,
                partner: str) -> RoutingFields:
        try:
            return extract(outer, payload, content.first_text())
        except FieldError as exc:
            reply = R.BAD_FIELD.format(field=exc.field.title(), value=exc.value[:40], accepted=", ".join(exc.accepted))
            raise Refused(reply, partner=partner, field=exc.field) from exc

    # -- durable acceptance ----------------------------------------------------------------------

    def _store(self, submission: Submission, *, partner_id: int, partner_name: str, government: bool, message_id: str,
               signature_digest: str, verified: Verified, fields: RoutingFields,
               refers_to: dict[str, object], sealed: embargo_seal.Seal | None = None,
               decision: str | None = None, confirmation: str | None = None) -> Reply:
        """Durable acceptance, in a transaction that concurrent sessions' acceptances may share (group
        commit): the 250 is given only once the commit holding this message is done."""
        raw = submission.raw
        body_digest = hashlib.sha256(raw).hexdigest()
        urgency = fields.value("urgency") or "ROUTINE"
        try:
            asked_by = reply_by(fields.value("reply-by"))
        except ValueError as exc:  # the shape of a date, not a date (a 13th month)
            reply = R.BAD_FIELD.format(field="Reply-By", value=str(fields.value("reply-by"))[:40], accepted="a date")
            raise Refused(reply, partner=partner_name, field="reply-by") from exc

        def check(uow) -> None:
            replayed = uow.messages.replayed(message_id, signature_digest)
            if replayed == "message-id":
                raise Refused(R.REPLAY_MESSAGE_ID, partner=partner_name)
            if replayed == "signature":
                raise Refused(R.REPLAY_SIGNATURE, partner=partner_name)

        def write(uow) -> str:
            now = self.clock.now()
            reference = next_reference(uow, now)
            # An embargoed message is kept only as sealed to its holders: no copy under the storage key.
            blob_id = None if sealed else vault.seal(uow, self.storage_key, raw, now=now, context=f"message:{reference}")
            kind = "disposition" if "mdn_for" in refers_to else fields.value("message-kind") or "spontaneous"
            # The due time is fixed with the acceptance (AR Art. 11 §2): the receipt proves the event stating it.
            due = windows.inbound(kind=kind, urgency=urgency, urgency_stated=fields.fields["urgency"].source != "default",
                                  embargo=fields.value("embargo"), received_at=now, government=government,
                                  reply_by=asked_by, deadlines=self.deadlines)
            message_row = uow.messages.insert(
                reference=reference, direction="inbound", partner_id=partner_id, rfc_message_id=message_id,
                signature_digest=signature_digest, body_digest=body_digest, size=len(raw),
                encrypted=verified.encrypted, signer_fingerprint=verified.check.signing_fingerprint,
                mail_from=submission.mail_from, kind=kind, urgency=urgency, urgency_source=fields.fields["urgency"].source,
                embargo=fields.value("embargo"), classification=fields.value("classification"),
                fields=fields.as_record(), links=refers_to, received_at=now, due_at=None,
                state=MessageState.ACCEPTED, receipt_status=ReceiptStatus.PENDING, raw_blob_id=blob_id,
            )
            retention.register(uow, message_row, now)
            if sealed is not None:
                embargo_seal.record(uow, self.clock, message_id=message_row, reference=reference, sealed=sealed)
            signer = verified.check.primary_fingerprint or ""
            evidence = f"signed message {reference} {message_id} (signature {signature_digest[:16]})"
            for text, act, refusal in ((decision, embargo_decisions.countersign_by_message, R.DECISION_REFUSED),
                                       (confirmation, declarations.confirm_by_message, R.EMBARGO_CONFIRMATION_REFUSED)):
                try:  # a joint decision's second signature, a judicial embargo's confirmation: given by signing it
                    if text is not None:
                        act(uow, self.clock, text=text, signer=signer, evidence=evidence)
                except EmbargoError as exc:
                    raise Refused(refusal.format(reason=str(exc)[:160]), partner=partner_name) from exc
            audit.record(uow, self.clock, Action.INTAKE_ACCEPTED, actor=partner_name, ref=reference, when=now,
                         peer=submission.peer, tls=submission.tls, size=len(raw), encrypted=verified.encrypted,
                         signer=verified.check.signing_fingerprint, hash=verified.check.hash_algorithm,
                         digest=body_digest, urgency=urgency, **windows.Due.record(due))
            for name in fields.conflicts:
                f = fields.fields[name]
                audit.record(uow, self.clock, Action.INTAKE_FIELD_CONFLICT, actor=partner_name, ref=reference,
                             field=name, outer=f.outer, protected=f.protected)
            self.transport.publish(uow, INTAKE_QUEUE, {"message_id": message_row}, priority=priority_of(urgency))
            return reference

        try:
            reference = self.db.group.run(check, write)
        except Conflict as exc:  # a concurrent duplicate won the race
            raise Refused(R.REPLAY_MESSAGE_ID, partner=partner_name) from exc
        log.info("admission: %s accepted from %s (%s, %s)", reference, partner_name, urgency,
                 fields.fields["urgency"].source)
        return R.ACCEPTED.format(reference=reference)

    def _recipient_acknowledgement(self, top: Part, verified: Verified, name: str, email: str) -> Reply:
        """A registered recipient's signed MDN: the acknowledgement of the copy the hub sent it. Recipients
        send nothing else through the hub (they are not contact points)."""
        with _unreadable("headers"):
            if _single_address(top.header("from")) != email:
                raise Refused(R.SIGNER_MISMATCH, recipient=name)
            original = links.disposition_of(verified.content)
        if original is None:
            raise Refused(R.UNKNOWN_SIGNER, recipient=name, why="a recipient may only send acknowledgements")
        with self.db.unit_of_work() as uow:
            mail = uow.outbound.by_rfc_message_id(original)
            if mail is None or mail.rcpt_to.lower() != email:
                raise Refused(R.MDN_UNRELATED, recipient=name)
            reference = uow.messages.reference_of(mail.message_id) if mail.message_id else None
            if mail.acknowledged_at is None:
                uow.outbound.update(mail.id, acknowledged_at=self.clock.now())
                audit.record(uow, self.clock, f"{mail.purpose}.acknowledged", actor=name, ref=reference, to=email)
                uow.commit()
        return R.MDN_RECORDED.format(reference=reference or original)

    def _notification(self, submission: Submission, top: Part) -> Reply:
        """A delivery status notification from an MTA (null sender, unsigned as MTAs send them): link it to
        the delivery it reports on and record it; one about no message of this hub is refused. It was read
        under the message limits like any other; MTAs return headers only or a small part of the message."""
        if len(submission.raw) > self.max_notification_bytes:
            raise Refused(R.NOTIFICATION_TOO_LARGE.format(limit=self.max_notification_bytes), size=len(submission.raw))
        with _unreadable("delivery report"):
            try:
                report = dsn.parse(top, self.limits) if dsn.is_dsn(top) else dsn.parse_text_bounce(top)
            except MimeError as exc:
                raise Refused(_mime_reply(exc, self.limits), mime=exc.reason) from exc
        if report is None:
            raise Refused(R.DSN_UNRELATED, why="no delivery report nor quoted Message-ID")
        with self.db.unit_of_work() as uow:
            mail = uow.outbound.by_rfc_message_id(report.original_message_id or "")
            if mail is None:
                raise Refused(R.DSN_UNRELATED, original=report.original_message_id)
            reference = uow.messages.reference_of(mail.message_id) if mail.message_id else None
            for status in report.recipients:
                if status.recipient not in ("*", mail.rcpt_to.lower()):
                    continue
                detail = dict(purpose=mail.purpose, to=mail.rcpt_to, status=status.status, mta=report.reporting_mta,
                              diagnostic=status.diagnostic[:200], authenticated=False,
                              format="rfc3464" if status.recipient != "*" else "text")
                if status.action == "failed":
                    uow.outbound.update(mail.id, state=DeliveryState.FAILED,
                                        last_error=f"DSN {status.status} {status.diagnostic}"[:500])
                    if mail.purpose == "receipt" and mail.message_id:
                        uow.messages.update(mail.message_id, receipt_status=ReceiptStatus.FAILED)
                    audit.record(uow, self.clock, Action.ALERT_DELIVERY_BOUNCED, ref=reference, **detail)
                else:
                    audit.record(uow, self.clock, f"delivery.{status.action or 'reported'}", ref=reference, **detail)
                if status.action == "delivered" and mail.purpose == "request" and mail.message_id is not None:
                    self._delivered(uow, mail, report, reference)
            uow.commit()
        return R.DSN_RECORDED.format(reference=reference or mail.rfc_message_id)

    def _delivered(self, uow, mail, report: dsn.DeliveryReport, reference: str | None) -> None:
        """A success DSN for OCAM's request: the destination has it, which starts the partner's clock (AR Art. 11
        §2) — only when it quotes the ENVID the copy was sent with. DSNs are not signed; the ENVID, 128 random
        bits seen only by the mail path that carried the copy, is what a forged report cannot know."""
        if not mail.envelope_id or report.envelope_id != mail.envelope_id:
            audit.record(uow, self.clock, Action.REQUEST_DSN_UNMATCHED, ref=reference, to=mail.rcpt_to,
                         why="a success report without the ENVID of the request's copy starts no clock")
            return
        message = uow.messages.get(mail.message_id)
        if message is not None:
            clocks.acknowledged(uow, deadlines=self.deadlines, clock=self.clock, message=message,
                                at=self.clock.now(), source="dsn")

    def record_refusal(self, peer: str, mail_from: str, reply: Reply, **detail: object) -> None:
        """Record a refusal (never the content) so the duty officer sees it; never raises."""
        log.info("admission: refused %s from %s <%s>: %s", reply.name, peer, mail_from, reply.code)
        try:
            with self.db.unit_of_work() as uow:
                audit.record(uow, self.clock, Action.INTAKE_REFUSED, actor=mail_from or "<>", peer=peer,
                             reason=reply.name, code=reply.code, enhanced=reply.enhanced,
                             **{k: v for k, v in detail.items() if v is not None})
                uow.commit()
        except Exception:  # the refusal stands even when it cannot be recorded
            log.exception("admission: could not record a refusal from %s", peer)


def _mime_reply(exc: MimeError, limits: pgpmime.Limits) -> Reply:
    if isinstance(exc, InlinePgp):
        return R.INLINE_PGP
    if isinstance(exc, Unsigned):
        return R.UNSIGNED
    if isinstance(exc, ContentOutsideSignedPart):
        return R.CONTENT_OUTSIDE_SIGNED
    if isinstance(exc, NestingTooDeep):
        return R.TOO_DEEP.format(limit=limits.max_depth)
    if isinstance(exc, TooManyParts):
        return R.TOO_MANY_PARTS.format(limit=limits.max_parts)
    if isinstance(exc, HeaderTooLong):
        return R.HEADER_TOO_LONG.format(limit=limits.max_header_line)
    if isinstance(exc, HeaderBlockTooLarge):
        return R.HEADER_BLOCK_TOO_LARGE.format(limit=limits.max_header_bytes)
    if isinstance(exc, TooManyHeaderFields):
        return R.TOO_MANY_HEADER_FIELDS.format(limit=limits.max_header_fields)
    return R.MALFORMED.format(reason=exc.reason)


def _single_address(value: str | None) -> str | None:
    addresses = [addr for _name, addr in getaddresses([value]) if addr] if value else []
    if len(addresses) != 1:
        return None
    return addresses[0].strip().lower()


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(span: timedelta) -> str:
    """A limit in words: whole days, else whole hours, else minutes."""
    seconds = int(span.total_seconds())
    size, unit = (86400, "day") if seconds % 86400 == 0 else (3600, "hour") if seconds % 3600 == 0 else (60, "minute")
    count = max(1, round(seconds / size))
    return f"{count} {unit}{'' if count == 1 else 's'}"
