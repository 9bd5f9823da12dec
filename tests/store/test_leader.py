"""Leadership: one holder among contenders; a holder killed with -9 is replaced within seconds (SQLite and PG)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from store import Database, LeaderLock
from tests.support import stores

HOLDER = textwrap.dedent("""
    import sys, time
    from store import Database, LeaderLock
    lock = LeaderLock(Database(sys.argv[1]), "scheduler")
    print("held" if lock.try_acquire() else "refused", flush=True)
    time.sleep(120)
""")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    return stores.fresh_postgres(migrated=False) if request.param == "postgresql" else f"sqlite:///{tmp_path / 'p.db'}"


def test_one_of_two_contenders_leads_until_it_releases(url):
    """Two contenders for one name: exactly one holds it; the other takes it once it is released."""
    first, second = Database(url), Database(url)
    a, b = LeaderLock(first, "scheduler"), LeaderLock(second, "scheduler")
    other = LeaderLock(second, "retention")
    try:
        assert a.try_acquire() and a.held and a.alive()
        assert not b.try_acquire() and not b.held
        assert other.try_acquire()  # another name is another leadership
        a.release()
        assert not a.held
        assert b.try_acquire() and b.alive()
        assert not a.try_acquire()
    finally:
        for lock in (a, b, other):
            lock.release()
        first.dispose()
        second.dispose()


def test_a_killed_holder_is_replaced_within_seconds(url):
    """kill -9 of the holding process: another contender acquires within a few seconds."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE, text=True)
    db = Database(url)
    lock = LeaderLock(db, "scheduler")
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not lock.try_acquire()
        holder.kill()
        holder.wait(10)
        killed = time.monotonic()
        while not lock.try_acquire() and time.monotonic() - killed < 10:
            time.sleep(0.05)
        took = time.monotonic() - killed
        assert lock.held, "the lock was not taken over within 10 s"
        assert took < 3, took
    finally:
        holder.kill()
        holder.wait(10)
        lock.release()
        db.dispose()


def test_a_lost_session_loses_the_leadership():
    """PostgreSQL: when the holder's database session ends, alive() says so and another contender leads."""
    url = stores.fresh_postgres(migrated=False)
    first, second = Database(url), Database(url)
    a, b = LeaderLock(first, "scheduler"), LeaderLock(second, "scheduler")
    try:
        assert a.try_acquire()
        with second.engine.connect() as c:
            c.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                              " WHERE application_name = 'passerelle leader scheduler' AND pid <> pg_backend_pid()")
        assert not a.alive() and not a.held
        deadline = time.monotonic() + 5
        while not b.try_acquire() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert b.held
    finally:
        a.release()
        b.release()
        first.dispose()
        second.dispose()
