"""Responses: find the request a response answers and decide what it does to that request's clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store import UnitOfWork
from store.vocabulary import DeadlineState

from hub.deadlines.windows import on_time


@dataclass(frozen=True)
class RequestOnFile:
    """The request a response points at, and its clock as it stood when the response was loaded."""

    message_id: int
    reference: str
    deadline_id: int | None
    owed_by: str | None
    partner_id: int | None
    due_at: datetime | None
    state: str | None


@dataclass(frozen=True)
class Answer:
    """What a response did: status is one of on-time, late, partial, unknown-request, closed-request, not-owed."""

    status: str
    request: str | None = None
    deadline_id: int | None = None
    delay_seconds: int | None = None

    @property
    def stops_clock(self) -> bool:
        return self.status in ("on-time", "late")


def find_request(uow: UnitOfWork, *, request_ref: str | None, links: dict) -> RequestOnFile | None:
    """By Request-Ref first, then by In-Reply-To, then by References (newest first)."""
    message = uow.messages.by_reference(request_ref) if request_ref else None
    if message is None:
        ids = list(links.get("in_reply_to", [])) + list(reversed(links.get("references", [])))
        message = uow.messages.answered_by_ids(ids)
    if message is None:
        return None
    deadline = uow.deadlines.for_message(message.id)
    if deadline is None:
        return RequestOnFile(message.id, message.reference, None, None, None, None, None)
    return RequestOnFile(message.id, message.reference, deadline.id, deadline.owed_by, deadline.partner_id,
                         deadline.due_at, deadline.state)


def judge(request: RequestOnFile | None, *, partner_id: int, received_at: datetime, status: str) -> Answer:
    """A final response from the party that owes the answer stops the clock, on time or late with the delay (whole
    seconds past the due time)."""
    if request is None:
        return Answer("unknown-request")
    if request.deadline_id is None:
        return Answer("unknown-request", request.reference)
    if request.state != DeadlineState.OPEN:
        return Answer("closed-request", request.reference, request.deadline_id)
    if request.owed_by != "partner" or request.partner_id != partner_id:
        return Answer("not-owed", request.reference, request.deadline_id)
    if status == "partial":
        return Answer("partial", request.reference, request.deadline_id)
    assert request.due_at is not None
    if on_time(received_at, request.due_at):  # the one rule (hub/deadlines/windows.py)
        return Answer("on-time", request.reference, request.deadline_id, 0)
    return Answer("late", request.reference, request.deadline_id, int((received_at - request.due_at).total_seconds()))
