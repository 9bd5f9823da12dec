"""The competence rule (law Art. 9 §3 5°): each of OCAM's people reaches only the data, and does only the acts, of
their competence. The access profiles (the acts of each role, AR Art. 6 §2) are the table ACTS, decided by
`authorise` and nowhere else; what a member may read is `may_open`; every refusal is recorded (access.refused)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from store import Database, Member, Message, UnitOfWork
from store.vocabulary import Action

from hub import audit
from hub.clock import Clock
from hub.errors import AccessRefused
from hub.registry.members import ANALYST, DEPUTY, DIRECTOR, EXPERT, STAFF
from hub.registry.clearances import cleared

REFUSED = Action.ACCESS_REFUSED
DIRECTION = (DIRECTOR, DEPUTY)  # law Art. 7 §1: "qui assurent la direction et la gestion quotidienne"
ANALYSIS = (DIRECTOR, DEPUTY, EXPERT, ANALYST)  # who evaluate the threat (law Art. 8)
OPERATIONS = (DIRECTOR, DEPUTY, STAFF)  # who keep the hub's deliveries going
EVERYONE = (DIRECTOR, DEPUTY, EXPERT, ANALYST, STAFF)

# The access profiles: every act of OCAM on the hub, the roles that may do it, and why. A new act is added here or
# it is refused to everyone (authorise knows no other list).
ACTS: dict[str, tuple[tuple[str, ...], str]] = {
    "member.add": (DIRECTION, "the director and the deputy direct OCAM and register its members (law Art. 7 §1; "
                              "AR Art. 6 §3)"),
    "member.designate-deputy": ((DIRECTOR,), "the director designates the deputy"),
    "partner.add": (DIRECTION, "the director and the deputy register the support services' contact points"),
    "partner.set": (DIRECTION, "the director and the deputy decide how a contact point's receipts travel, whether "
                               "the relay is its own server (AR Art. 11 §2, §7), its clearance (§8), and register the "
                               "head of an Art. 12 service (law Art. 12 al. 3)"),
    "partner.update-key": (DIRECTION, "the director and the deputy keep the contact points' keys"),
    "recipient.add": (DIRECTION, "the director and the deputy register the recipients of evaluations (law Art. 10)"),
    "holders.change": (DIRECTION, "the director (and the deputy) designate the holders of embargoed information "
                                  "(law Art. 11-12 al. 2)"),
    "embargo.decide": (DIRECTION, "the director (and the deputy) take the joint decisions (law Art. 11-12 al. 3)"),
    "evaluation.add-recipient": (DIRECTION, "only the director and the deputy add a recipient beyond law Art. 10's "
                                            "distribution"),
    "evaluation.exclude": (DIRECTION, "only the director and the deputy leave out a recipient law Art. 10 names"),
    "export.oversight": (DIRECTION, "the director answers to the oversight committees (law Art. 9 §3; AR Art. 6 §4)"),
    "tls.install": (DIRECTION, "the director and the deputy answer for the hub's identity: its certificate"),
    "hub-key.rotate": (DIRECTION, "the director and the deputy answer for the hub's identity: its OpenPGP key"),
    "partner.kit": (OPERATIONS, "the director, the deputy and the staff help a contact point set up (nothing secret "
                                "is written)"),
    "retention.review": ((DIRECTOR,), "the director decides the erasure (AR Art. 5 §4)"),
    "request.demand-immediate": ((DIRECTOR,), "the director demands immediate communication, and motivates it "
                                              "(law Art. 6 §1 al. 2)"),
    "request.send": (ANALYSIS, "the director, the deputy, the experts and the analysts ask the support services "
                               "(law Art. 6)"),
    "evaluation.send": (ANALYSIS, "the director, the deputy, the experts and the analysts send evaluations "
                                  "(law Art. 8, 10)"),
    "message.open": (ANALYSIS, "the director, the deputy, the experts and the analysts read what the services send "
                               "(each what the routing rules give them)"),
    "retention.trigger": (ANALYSIS, "those who read the information bring what they learn of it to the review "
                                    "(AR Art. 5 §3)"),
    "embargo.open": (EVERYONE, "a holder on the current list opens an embargoed item (law Art. 11-12 al. 2): the "
                               "list decides"),
    "embargo.reseal": (EVERYONE, "a holder on the current list reseals an item to it: the list decides"),
    "alert.acknowledge": (EVERYONE, "whoever watches the dashboard acknowledges what they saw"),
    "item.requeue": (OPERATIONS, "the director, the deputy and the staff keep the hub's processing going"),
    "delivery.retry": (OPERATIONS, "the director, the deputy and the staff keep the hub's deliveries going"),
    "audit.list": (EVERYONE, "the director and the deputy read the whole log (internal control, AR Art. 6 §4); "
                             "every other member the record of their own acts"),
}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    why: str  # the ground of an allowed act (recorded with it), or the reason of a refusal


def roles_of(act: str) -> tuple[str, ...]:
    return ACTS[act][0] if act in ACTS else ()


def authorise(member: Member, act: str, *, ref: str | None = None) -> None:
    """Refuse (AccessRefused) *act* by *member* unless the member's role may do it (the table ACTS)."""
    if member.role in roles_of(act):
        return
    ground = ACTS[act][1] if act in ACTS else "no role may do it"
    raise refuse(actor=member.name, act=act, ref=ref,
                 why=f"{act} is not an act of the {member.role}: {ground}; {member.name} is {member.role} "
                     "(law Art. 9 §3 5°)")


def reads_whole_log(member: Member) -> bool:
    return member.role in DIRECTION


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
    if member.role in DIRECTION:
        return Verdict(True, f"the {member.role} reads every message that is not embargoed")
    routed = uow.distributions.find(message.id, member.name) if message.direction == "inbound" else None
    if routed is not None and routed.included and (routed.checks or {}).get("as") == "member":
        return Verdict(True, f"routed to {member.name} ({routed.basis})")
    return Verdict(False, f"{message.reference} was not routed to {member.name} ({member.role}); only the director, "
                          "the deputy and the members the routing rules name read it (law Art. 9 §3 5°)")


def refuse(*, actor: str, act: str, why: str, ref: str | None = None) -> AccessRefused:
    """The error to raise for a refused act; `recorded` writes it to the audit log (access.refused)."""
    return AccessRefused(actor, why, act=act, ref=ref)


@contextmanager
def recorded(db: Database, clock: Clock) -> Iterator[None]:
    """Run an act; an AccessRefused it raises is recorded (access.refused) in a transaction of its own, the act's
    own being rolled back, and raised on. Every entry point of an act (the CLI, the dashboard) runs it so."""
    try:
        yield
    except AccessRefused as exc:
        if not exc.recorded:
            with db.unit_of_work() as uow:
                audit.record(uow, clock, REFUSED, actor=exc.actor, ref=exc.ref, act=exc.act, why=exc.why)
                uow.commit()
            exc.recorded = True
        raise
