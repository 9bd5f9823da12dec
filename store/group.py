"""Group commit: write jobs from several threads run in one transaction and share its commit.

A job is a ``check`` that only reads (and may raise to refuse) and a ``write`` that does its writes and
returns the job's result. The first thread to arrive leads: it opens one unit of work, runs every job
waiting at that moment in arrival order (each sees the writes of those before it), commits once, and
hands each caller its own result, or its own exception. No caller returns before the commit that
holds its writes. While a group commits, the next one gathers.

If a ``write`` raises, or the shared commit fails for a reason other than the store being unavailable,
the group is rolled back and each of its jobs runs again alone, in its own transaction: one job never
decides another's fate. A ``check`` that raises refuses only its own job (it wrote nothing), but that
verdict stands only once the group has committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError

from .errors import StoreUnavailable

if TYPE_CHECKING:
    from .database import Database
    from .uow import UnitOfWork


class _Job:
    __slots__ = ("check", "write", "result", "error", "done", "lead")

    def __init__(self, check: Callable[["UnitOfWork"], None], write: Callable[["UnitOfWork"], Any]) -> None:
        self.check = check
        self.write = write
        self.result: Any = None
        self.error: BaseException | None = None
        self.lead = False  # this job's thread is to lead the next group
        self.done = threading.Event()  # set when the job is settled, or when its thread is to lead


_Outcome = tuple[Any, BaseException | None]


class GroupCommit:
    """``group.run(check, write)`` from any thread: the result of *write*, committed (see the module)."""

    def __init__(self, db: "Database", *, max_group: int = 16) -> None:
        self.db = db
        self.max_group = max_group
        self._lock = threading.Lock()
        self._waiting: list[_Job] = []
        self._leading = False
        self.commits = 0  # shared commits made, and the jobs they held (for the benchmark's figures)
        self.jobs = 0

    def run(self, check: Callable[["UnitOfWork"], None], write: Callable[["UnitOfWork"], Any]) -> Any:
        job = _Job(check, write)
        with self._lock:
            self._waiting.append(job)
            if not self._leading:  # nobody leads: the waiting list was empty, this job is first in it
                self._leading = job.lead = True
        if not job.lead:
            job.done.wait()
        if job.lead:
            self._lead()
        if job.error is not None:
            raise job.error
        return job.result

    def _lead(self) -> None:
        """Commit one group (this thread's own job is first in it), then hand the lead to a waiting job."""
        with self._lock:
            group, self._waiting = self._waiting[:self.max_group], self._waiting[self.max_group:]
        try:
            outcomes = self._outcomes(group)
        finally:
            with self._lock:
                if self._waiting:
                    following = self._waiting[0]
                    following.lead = True
                    following.done.set()
                else:
                    self._leading = False
        for job, (result, error) in zip(group, outcomes):
            job.result, job.error, job.lead = result, error, False
            job.done.set()

    def _outcomes(self, group: list[_Job]) -> list[_Outcome]:
        try:
            return self._together(group)
        except StoreUnavailable as exc:  # all of them wait for the store alike
            return [(None, exc)] * len(group)
        except Exception as exc:  # noqa: BLE001 - a write or the shared commit failed
            if len(group) == 1:
                return [(None, exc)]
            return [self._alone(job) for job in group]

    def _together(self, group: list[_Job]) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        with self.db.unit_of_work() as uow:
            for job in group:
                try:
                    job.check(uow)
                except DBAPIError:
                    raise  # the store's trouble, not the job's verdict
                except Exception as refusal:  # noqa: BLE001 - the job's own verdict, for its caller
                    outcomes.append((None, refusal))
                    continue
                outcomes.append((job.write(uow), None))
            uow.commit()
        self.commits += 1
        self.jobs += len(group)
        return outcomes

    def _alone(self, job: _Job) -> _Outcome:
        try:
            return self._together([job])[0]
        except Exception as error:  # noqa: BLE001 - this job's own failure
            return None, error
