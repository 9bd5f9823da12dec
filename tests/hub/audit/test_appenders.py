"""Several processes append to one log and issue checkpoints at the same time (PostgreSQL's advisory locks, SQLite's
one writer): every index once, none missing, every checkpoint consistent with the others."""

from __future__ import annotations

import os
import subprocess
import sys

from cryptography.hazmat.primitives.asymmetric import ed25519

from crypto.tlog import EMPTY_ROOT, Signer
from hub.audit.verify import verify_log
from store import Database
from tests.support import stores

PROCESSES, ROUNDS, EVENTS = 3, 40, 3
ORIGIN = "ocam.test/passerelle/audit"

SCRIPT = """
import os, sys
from cryptography.hazmat.primitives.asymmetric import ed25519
from crypto.tlog import EMPTY_ROOT, Signer
from hub import audit
from hub.audit.checkpoints import Checkpointer
from hub.clock import SystemClock
from store import Database

db = Database(os.environ["URL"])
clock = SystemClock()
signer = Signer(os.environ["ORIGIN"], ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(os.environ["SEED"])))
checkpointer = Checkpointer(db, clock, os.environ["ORIGIN"], signer)
name = sys.argv[1]
for n in range(int(os.environ["ROUNDS"])):
    with db.unit_of_work() as uow:
        for i in range(int(os.environ["EVENTS"])):
            audit.record(uow, clock, "test.appended", actor=name, n=n, i=i)
        uow.commit()
    if n % 7 == 0:
        checkpointer.issue("periodic")
checkpointer.issue("periodic")
db.dispose()
"""


def test_several_processes_append_and_checkpoint_one_log(tmp_path):
    url = stores.fresh_url(tmp_path, "shared.db")
    if not stores.on_postgres():
        from store import upgrade

        database = Database(url)
        upgrade(database.engine)
        database.dispose()
    key = ed25519.Ed25519PrivateKey.generate()
    seed = key.private_bytes_raw().hex()
    env = {**os.environ, "URL": url, "SEED": seed, "ORIGIN": ORIGIN, "ROUNDS": str(ROUNDS), "EVENTS": str(EVENTS)}
    processes = [subprocess.Popen([sys.executable, "-c", SCRIPT, f"p{i}"], env=env, stderr=subprocess.PIPE)
                 for i in range(PROCESSES)]
    try:
        errors = [p.communicate(timeout=120)[1].decode() for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in processes] == [0] * PROCESSES, errors
    database = Database(url)
    with database.reader() as uow:
        seqs = [row.seq for row in uow.log.stream()]
        checkpoints = uow.log.checkpoints()
        result = verify_log(uow, verifiers=[Signer(ORIGIN, key).verifier])
    database.dispose()
    assert seqs == list(range(PROCESSES * ROUNDS * EVENTS))
    assert len(checkpoints) >= PROCESSES and checkpoints[-1].size == len(seqs)
    assert result.ok and result.size == len(seqs), [f.line() for f in result.findings]


def test_checkpoints_issued_from_the_kept_right_edge_store_the_tiles_a_fresh_reading_gives(tmp_path):
    """One process issuing after every few events keeps the tree's right edge instead of reading tiles: what it
    stores is what the events give when hashed anew, tile for tile, across tile and level boundaries."""
    from hub import audit
    from hub.audit.checkpoints import Checkpointer
    from hub.audit.entries import leaf_of_row
    from hub.audit.tree import Growth
    from hub.clock import SystemClock
    from crypto.tlog import EMPTY_ROOT
    from store import upgrade

    database = Database(stores.fresh_url(tmp_path, "kept.db"))
    upgrade(database.engine)
    clock = SystemClock()
    signer = Signer(ORIGIN, ed25519.Ed25519PrivateKey.generate())
    checkpointer = Checkpointer(database, clock, ORIGIN, signer)
    for n in range(700):  # past 2 full tiles of leaves
        with database.unit_of_work() as uow:
            for i in range(n % 3 + 1):
                audit.record(uow, clock, "test.appended", n=n, i=i)
            uow.commit()
        if n % 5 == 0:
            checkpointer.issue("periodic")
    issued = checkpointer.issue("periodic")
    with database.reader() as uow:
        fresh = Growth(uow.log, 0, EMPTY_ROOT)
        fresh.add([leaf_of_row(r) for r in uow.log.stream()])
        stored = uow.log.tiles(fresh.written())
        assert fresh.root() == issued.root and issued.size > 2 * 256
        assert stored == fresh.written()
    database.dispose()


def _shared_log(tmp_path, name: str):
    """A migrated store, a clock, the log's signer, and ``append(n)``: n events in one transaction."""
    from hub import audit
    from hub.clock import SystemClock
    from store import upgrade

    database = Database(stores.fresh_url(tmp_path, name))
    if not stores.on_postgres():
        upgrade(database.engine)
    clock = SystemClock()

    def append(count: int) -> None:
        with database.unit_of_work() as uow:
            for i in range(count):
                audit.record(uow, clock, "test.appended", actor="p", i=i)
            uow.commit()

    return database, clock, Signer(ORIGIN, ed25519.Ed25519PrivateKey.generate()), append


def test_an_issuer_overtaken_by_another_grows_the_tree_it_read(tmp_path):
    """Between an issuer's reading of the latest checkpoint and of its tiles, another process stores a larger
    tree's (PostgreSQL's readers see each statement's commits): the first still signs the right root."""
    from hub.audit.checkpoints import Checkpointer
    from hub.audit.entries import leaf_of_row
    from hub.audit.tree import Growth

    database, clock, signer, append = _shared_log(tmp_path, "overtaken.db")
    append(6)
    first = Checkpointer(database, clock, ORIGIN, signer).issue("periodic")
    append(10)
    later = Checkpointer(database, clock, ORIGIN, signer).issue("periodic")  # tile 0/0 now holds 16 hashes
    append(4)
    with database.reader() as uow:
        leaves = [leaf_of_row(row) for row in uow.log.stream()]
        growth = Growth(uow.log, first.size, first.root)  # what the overtaken issuer read
        growth.add(leaves[first.size:])
        fresh = Growth(uow.log, 0, EMPTY_ROOT)
        fresh.stored._tiles.clear()
        fresh.add(leaves)
    database.dispose()
    assert (first.size, later.size, growth.size) == (6, 16, 20)
    assert growth.root() == fresh.root()
    assert growth.written()[0, 0] == fresh.written()[0, 0]


def test_a_receipts_checkpoint_stored_after_a_larger_one_keeps_the_larger_trees_tiles(tmp_path):
    """A receipt's checkpoint is signed, then stored with the receipts' transaction; meanwhile another issuer
    stores a larger tree's, or one of the same size: the smaller is stored without its shorter tiles, the same
    size once, and a same-size checkpoint with another root is a fork the store refuses."""
    import dataclasses

    import pytest

    from hub.audit.checkpoints import Checkpointer, Issued
    from hub.errors import LogCorrupt

    database, clock, signer, append = _shared_log(tmp_path, "stored-late.db")

    def store(checkpointer: Checkpointer, pending) -> None:
        with database.unit_of_work() as uow:
            checkpointer.persist(uow, pending)
            uow.commit()

    append(6)
    late, other = Checkpointer(database, clock, ORIGIN, signer), Checkpointer(database, clock, ORIGIN, signer)
    pending = late.covering(5)
    append(4)
    larger = other.issue("periodic")
    store(late, pending)
    same = Checkpointer(database, clock, ORIGIN, signer).covering(9)  # 10 events, stored already by *other*
    with database.reader() as uow:
        sizes = [c.size for c in uow.log.checkpoints()]
        tile = uow.log.tiles([(0, 0)])[0, 0]
    assert (pending.size, larger.size, sizes, len(tile)) == (6, 10, [6, 10], 10 * 32)
    assert isinstance(same, Issued) and same.root == larger.root

    append(2)
    first, second = late.covering(11), other.covering(11)
    store(other, second)
    store(late, first)  # the same tree, stored already: nothing more
    forged = dataclasses.replace(first, issued=dataclasses.replace(first.issued, root=bytes(32)))
    with pytest.raises(LogCorrupt, match="two checkpoints of 12 events"):
        store(late, forged)
    with database.reader() as uow:
        assert [c.size for c in uow.log.checkpoints()] == [6, 10, 12]
    database.dispose()
