"""Reading the audit log (`passerelle audit list`), itself a member's signed act and an access recorded: the
director and the deputy read the whole log (internal control, AR Art. 6 §4), every other member the record of
their own acts (hub/acts/competence.py); read only over the store's rows."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from store import AuditEvent, UnitOfWork
from store.vocabulary import Action

from hub import audit
from hub.clock import Clock

from .competence import reads_whole_log, refuse
from .signed import MemberHome

ACT = "audit.list"


def read(uow: UnitOfWork, clock: Clock, by: MemberHome, *, reference: str | None = None, actor: str | None = None,
         action: str | None = None, since: datetime | None = None, limit: int = 1000) -> Sequence[AuditEvent]:
    """The most recent *limit* events that pass the filters, oldest first, for the member whose home *by* is; the
    reading is recorded (audit.listed) in *uow*, after what it read."""
    act = by.sign(uow, clock, ACT, ref=reference, actor=actor, action=action,
                  since=since.isoformat() if since else None, limit=limit)
    member = act.member
    if not reads_whole_log(member):
        if actor is not None and actor != member.name:
            raise refuse(actor=member.name, act=ACT, ref=reference,
                         why=f"{member.name} ({member.role}) reads the record of their own acts only, not {actor}'s; "
                             "the director and the deputy read the whole log (law Art. 9 §3 5°)")
        actor = member.name
    events = uow.acts.log(reference=reference, actor=actor, action=action, since=since, limit=limit)
    audit.record(uow, clock, Action.AUDIT_LISTED, actor=member.name, ref=reference, role=member.role,
                 filters={"actor": actor, "action": action, "since": since.isoformat() if since else None},
                 shown=len(events), **act.evidence())
    return events
