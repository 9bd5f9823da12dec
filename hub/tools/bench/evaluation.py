"""The evaluation benchmark: route and encrypt one evaluation to N recipients; deliveries per second."""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from crypto import Gpg, StorageKey
from crypto.openpgp.gpg_process import stop_agent
from gateway.capture import CaptureRelay
from store import Database

from hub.evaluations import sending as evaluations
from hub.registry import partners, recipients
from ..background import BackgroundHub
from ..director import DIRECTOR, director_home, init_with_director
from hub.clock import SystemClock
from hub.evaluations.policy import Policy
from hub.settings import load
from hub.transport.embedded import EmbeddedTransport


def run_evaluation_bench(count: int, evaluations_sent: int, *, within: Path | None = None) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="pbe", dir=within))
    try:
        return _run(tmp, count, evaluations_sent)
    finally:
        for home in (tmp / "hub" / "gnupg", tmp / "keys", tmp / DIRECTOR):
            stop_agent(home)
        shutil.rmtree(tmp, ignore_errors=True)


def _run(tmp: Path, count: int, evaluations_sent: int) -> str:
    init_with_director(tmp)
    settings = load(tmp / "hub")
    clock = SystemClock()
    db = Database(settings.database_url)
    gpg = Gpg(settings.gnupg_home)
    director = director_home(tmp, settings, gpg)  # registers, and sends the evaluations: one signed act each
    keys = Gpg(tmp / "keys")
    types = ["crisis-centre", "federal-prosecutor"] + ["nsc-member"] * (count - 3)
    with db.unit_of_work() as uow:
        fpr = keys.generate_key("Police <spoc@police.test>")
        partners.add(uow, gpg, clock, director, name="police", kind="police", email="spoc@police.test",
                     key_data=keys.export_public(fpr))
        for i, type_ in enumerate(types):
            fpr = keys.generate_key(f"R{i} <r{i}@gov.test>")
            recipients.add(uow, gpg, clock, director, name=f"r{i}", type=type_, email=f"r{i}@gov.test",
                           key_data=keys.export_public(fpr), clearance="SECRET")
        uow.commit()
    policy = Policy.load()
    storage = StorageKey.load(settings.storage_key_path)
    transport = EmbeddedTransport(db, clock)
    timings = []
    for _ in range(evaluations_sent):
        started = time.perf_counter()
        with db.unit_of_work() as uow:
            the_plan = evaluations.plan(uow, gpg, policy, clock.now(), kind="strategic", origin="own",
                                        classification="SECRET", additions=[], exclusions={})
            evaluations.send(uow, settings=settings, gpg=gpg, key=storage, clock=clock, transport=transport,
                             by=director, the_plan=the_plan, kind="strategic", origin="own", threat_level=3, urgency="URGENT",
                             classification="SECRET", subject="Bench", body="x" * 20_000, attachments=[])
            uow.commit()
        timings.append(time.perf_counter() - started)
    db.dispose()
    total = evaluations_sent * len(the_plan.included)
    with CaptureRelay() as relay:
        started = time.perf_counter()
        with BackgroundHub(settings, relay=relay.address):
            relay.wait_for(total, timeout=600)
            delivered = len(relay.messages)
            elapsed = (max(c.at for c in relay.messages) - started) if relay.messages else 0.0
    return "\n".join([
        f"recipients    {len(the_plan.included)} per evaluation (ed25519 keys, 20 KB body), SQLite",
        f"route+encrypt median {statistics.median(timings):.2f} s per evaluation, over {evaluations_sent} "
        f"({1000 * statistics.median(timings) / len(the_plan.included):.1f} ms per recipient copy)",
        f"deliveries    {delivered} through a local relay in {elapsed:.2f} s = {delivered / elapsed:.0f}/s "
        f"({settings.delivery.workers} SMTP sessions, hub started cold)",
    ])
