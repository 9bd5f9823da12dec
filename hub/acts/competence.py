"""The competence rule (law Art. 9 §3 5°): each of OCAM's people reaches only the data of their competence. What a
member may reach is decided here and nowhere else; every refusal is recorded (access.refused)."""

from __future__ import annotations

from dataclasses import dataclass

from store import Member, Message, UnitOfWork

from hub import audit
from hub.clock import Clock
from hub.errors import AccessRefused
from hub.registry.members import DIRECTOR
from hub.registry.recipients import cleared

DEPUTY = "deputy"
READS_EVERY_MESSAGE = (DIRECTOR, DEPUTY)  # every message that is not embargoed


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    why: str  # the ground of an allowed act (recorded with it), or the reason of a refusal


def may_open(uow: UnitOfWork, member: Member, message: Message) -> Verdict:
    """Whether *member* may read *message* through the hub. Embargoed items are read only by their holders, with
    their own key (`embargo open`, law Art. 11-12 al. 2); the director and the deputy read every other message;
    any other member reads the inbound messages the routing rules gave them; nobody above their clearance."""
    if message.embargo:
        return Verdict(False, f"{message.reference} is under {message.embargo} embargo: it is sealed to its holders "
                              "and opened only with `passerelle embargo open` (law Art. 11-12 al. 2)")
    if not cleared(member.clearance, message.classification):
        return Verdict(False, f"{member.name} is cleared {member.clearance}, {message.reference} is classified "
                              f"{message.classification}")
    if member.role in READS_EVERY_MESSAGE:
        return Verdict(True, f"the {member.role} reads every message that is not embargoed")
    routed = uow.distributions.find(message.id, member.name) if message.direction == "inbound" else None
    if routed is not None and routed.included and (routed.checks or {}).get("as") == "member":
        return Verdict(True, f"routed to {member.name} ({routed.basis})")
    return Verdict(False, f"{message.reference} was not routed to {member.name} ({member.role}); only the director, "
                          "the deputy and the members the routing rules name read it (law Art. 9 §3 5°)")


def refuse(uow: UnitOfWork, clock: Clock, *, actor: str, act: str, why: str, ref: str | None = None) -> AccessRefused:
    """Record a refused act (in *uow*: the caller commits it) and return the error to raise."""
    audit.record(uow, clock, "access.refused", actor=actor, ref=ref, act=act, why=why)
    return AccessRefused(actor, f"{why}. The attempt was recorded.")
