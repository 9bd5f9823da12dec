"""Group commit: concurrent write jobs share a commit, each caller gets its own result, refusal or failure."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest

from store import Database, GroupCommit, upgrade

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)


class Refusal(Exception):
    pass


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'g.db'}")
    upgrade(database.engine)
    yield database
    database.dispose()


def _append(name: str):
    """A job: refuse a name already in the log, else append one audit event naming it; returns the name."""
    def check(uow) -> None:
        if any(e.actor == name for e in uow.audit.recent(limit=1000)):
            raise Refusal(name)

    def write(uow) -> str:
        if name.startswith("boom"):
            raise RuntimeError(name)
        uow.audit.append(at=T0, actor=name, action="test.grouped")
        return name
    return check, write


def _run_all(group: GroupCommit, names: list[str], *, first_waits_for: int = 0) -> list[object]:
    """Each name's job from its own thread; the first job's write holds its group open until
    *first_waits_for* other jobs are waiting (so they form the next group), at most 10 s."""
    results: list[object] = [None] * len(names)
    first_check, first_write = _append(names[0])

    def held_write(uow):
        deadline = time.monotonic() + 10
        while len(group._waiting) < first_waits_for and time.monotonic() < deadline:
            time.sleep(0.005)
        return first_write(uow)

    def call(i: int) -> None:
        check, write = (first_check, held_write) if i == 0 else _append(names[i])
        try:
            results[i] = group.run(check, write)
        except Exception as exc:  # noqa: BLE001 - recorded for the assertions
            results[i] = exc

    first = threading.Thread(target=call, args=(0,))
    first.start()
    deadline = time.monotonic() + 10
    while not group._leading and time.monotonic() < deadline:
        time.sleep(0.001)
    others = [threading.Thread(target=call, args=(i,)) for i in range(1, len(names))]
    for t in others:
        t.start()
    for t in [first, *others]:
        t.join(30)
    return results


def _committed(db: Database) -> list[str]:
    with db.reader() as uow:
        return [e.actor for e in reversed(uow.audit.recent(limit=1000))]


def _indexes(db) -> list[int]:
    with db.reader() as uow:
        return [e.seq for e in reversed(uow.audit.recent(limit=1000))]


def test_waiting_jobs_share_one_commit_and_each_gets_its_result(db):
    """Nine jobs while a tenth holds the store: two commits in all, ten events at leaf indexes 0..9."""
    group = GroupCommit(db)
    names = [f"job{i}" for i in range(10)]
    results = _run_all(group, names, first_waits_for=9)
    assert results == names, results
    assert (group.commits, group.jobs) == (2, 10)
    assert sorted(_committed(db)) == sorted(names)
    assert _indexes(db) == list(range(10))


def test_a_refused_job_does_not_take_the_others_with_it(db):
    """A job refused by its check (a name already logged, or logged earlier in the same group) gets its
    refusal; the others in the group are committed."""
    group = GroupCommit(db)
    group.run(*_append("old"))
    results = _run_all(group, ["first", "old", "new", "new"], first_waits_for=3)
    assert isinstance(results[1], Refusal)
    assert sorted(type(r).__name__ for r in results[2:]) == ["Refusal", "str"]  # the second "new" sees the first
    assert sorted(_committed(db)) == ["first", "new", "old"]
    assert (group.commits, group.jobs) == (3, 5)


def test_a_failing_write_leaves_each_other_job_to_commit_alone(db):
    """A write that raises in a group: that caller gets the error; the others are committed on their own."""
    group = GroupCommit(db)
    results = _run_all(group, ["first", "a", "boom", "b"], first_waits_for=3)
    assert isinstance(results[2], RuntimeError)
    assert [results[i] for i in (0, 1, 3)] == ["first", "a", "b"], results
    assert sorted(_committed(db)) == ["a", "b", "first"]
    assert _indexes(db) == [0, 1, 2]  # the rolled-back group's indexes are taken again, without a gap


def test_a_caller_returns_only_once_its_write_is_committed(db):
    """When run() returns, another connection already sees the row."""
    group = GroupCommit(db)
    for i in range(5):
        group.run(*_append(f"seen{i}"))
        assert f"seen{i}" in _committed(db)
