"""The intake benchmark: N signed messages from C SMTP clients into a fresh hub, receipts captured; then the same
load against the hub's SMTP server alone over a durable commit (`python -m hub.tools.bench.intake` runs it)."""

from __future__ import annotations

import asyncio
import os
import platform
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from crypto import Gpg
from crypto.mime import pgpmime
from crypto.openpgp.gpg_process import stop_agent, system_binary
from gateway import IngressHandler, Reply, Submission, server_tls_context, start_server
from gateway.capture import CaptureRelay

from hub.registry import partners, recipients
from hub.registry.recipients import OCAM_DUTY
from hub.clock import SystemClock
from hub.settings import host_port, load
from store import Database, sqlite_url

from ..background import cpu_seconds, served
from ..director import director_home, init_with_director
from . import roles
from .load import cpu_model, loopback_tls, pct, presign, reference_in, send, session, use_broker


@dataclass
class IntakeReport:
    count: int
    clients: int
    size: int
    accepted: int
    refused: int
    receipts: int
    elapsed_250: float
    elapsed_receipts: float
    lat_250: list[float]
    lat_receipt: list[float]
    ceiling: float  # verify+sign pairs/s through gpg processes alone
    ceiling_threads: int
    hub_cpu: tuple[float, float]  # seconds: the hub process itself, and its children (gpg) that have exited
    bench_cpu: float  # seconds: this process (the SMTP clients and the capturing relay)
    store: str = "sqlite"
    workers: int = 0  # worker processes beside one gateway process (0: one embedded `serve --role all`)
    in_process: bool = True  # the hub's [crypto] in_process
    ceiling_in_process: float = 0.0  # the same pairs/s with the adapter's in-process path
    duty_desk: bool = False  # one ocam-duty recipient registered: every message also gets an inbound copy
    copies: int = 0  # inbound copies at the relay
    elapsed_copies: float = 0.0
    lat_copy: list[float] | None = None  # DATA sent -> the copy at the relay
    checkpoints: dict[str, int] | None = None  # the audit log's checkpoints issued during the run, by reason
    peak_rss: int = 0  # bytes: the serve process's peak resident set (the largest one's, with workers)
    alone_accepted: int = 0  # the gateway alone: messages answered 250, in how long, its server CPU seconds
    alone_elapsed: float = 0.0
    alone_cpu: float = 0.0
    layouts: tuple[roles.Layout, roles.Layout | None] | None = None  # with --amqp: by role, and embedded

    @property
    def accept_rate(self) -> float:
        return self.accepted / self.elapsed_250 if self.elapsed_250 else 0.0

    @property
    def receipt_rate(self) -> float:
        return self.receipts / self.elapsed_receipts if self.elapsed_receipts else 0.0

    @property
    def hub_cost(self) -> float:
        """The hub's server CPU per accepted message (receipt included) over the gateway alone's."""
        if not (self.accepted and self.alone_accepted and self.alone_cpu):
            return float("nan")
        return (sum(self.hub_cpu) / self.accepted) / (self.alone_cpu / self.alone_accepted)

    @property
    def hub_adds(self) -> float:
        """Seconds of server CPU per accepted message that the hub spends beyond the gateway alone's: the ratio
        rises when the receiving path both share gets cheaper, this figure does not."""
        if not (self.accepted and self.alone_accepted):
            return float("nan")
        return sum(self.hub_cpu) / self.accepted - self.alone_cpu / self.alone_accepted

    def render(self) -> str:
        cpu = cpu_model()
        gpg = subprocess.run([system_binary("gpg"), "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        ms = lambda v: f"{v * 1000:.1f} ms"  # noqa: E731
        return "\n".join([
            f"machine      {os.cpu_count()} cores, {cpu}; Python {platform.python_version()}; {gpg}",
            f"load         {self.count} signed messages of {self.size} bytes, {self.clients} SMTP clients "
            "(STARTTLS, one connection each), hub ed25519, partner ed25519, loopback;"
            + (f" hub as 1 gateway + {self.workers} worker process(es) over RabbitMQ (broker on the same cores),"
               if self.workers else " hub in its own process (passerelle serve, embedded transport),")
            + " clients and relay in the bench process",
            f"store        {self.store}",
            "crypto       " + ("signatures and encryption in process (crypto.in_process = true)" if self.in_process
                                else "every verify, sign and encrypt through a gpg process (crypto.in_process = false)"),
            f"accepted     {self.accepted} (refused {self.refused}) in {self.elapsed_250:.2f} s = {self.accept_rate:.1f} msg/s",
            f"with receipt {self.receipts} receipts at the relay after {self.elapsed_receipts:.2f} s = {self.receipt_rate:.1f} msg/s",
            f"250 latency  p50 {ms(pct(self.lat_250, 50))}  p99 {ms(pct(self.lat_250, 99))}",
            f"receipt lat. p50 {ms(pct(self.lat_receipt, 50))}  p99 {ms(pct(self.lat_receipt, 99))}  (DATA sent -> receipt at relay)",
            *([f"copies       {self.copies} inbound copies to the duty desk (signed, encrypted to its key) after "
               f"{self.elapsed_copies:.2f} s; DATA sent -> copy at relay p50 {ms(pct(self.lat_copy or [], 50))} "
               f"p99 {ms(pct(self.lat_copy or [], 99))}"] if self.duty_desk else
              ["copies       none (no duty desk registered: --duty-desk adds one)"]),
            f"hub CPU      {1000 * self.hub_cpu[0] / max(self.accepted, 1):.1f} ms/msg in the hub process, "
            f"{1000 * self.hub_cpu[1] / max(self.accepted, 1):.1f} ms/msg in its gpg children, "
            f"{1000 * self.bench_cpu / max(self.accepted, 1):.1f} ms/msg in the load generator and relay",
            f"gpg ceiling  {self.ceiling:.1f} verify+sign pairs/s ({self.ceiling_threads} threads, adapter alone, "
            "gpg processes)",
            f"in process   {self.ceiling_in_process:.1f} verify+sign pairs/s ({self.ceiling_threads} threads, adapter "
            "alone, in-process path)",
            f"efficiency   {_share(self.receipt_rate, self.ceiling)} of the gpg ceiling, "
            f"{_share(self.receipt_rate, self.ceiling_in_process)} of the in-process one",
            "checkpoints  " + (", ".join(f"{n} {reason}" for reason, n in sorted(self.checkpoints.items()))
                               if self.checkpoints else "none") + " (the audit log's, signed during the run)",
            f"peak RSS     {self.peak_rss / 2**20:.0f} MiB ("
            + ("the largest serve process" if self.workers else "the serve process") + ", its high-water mark)",
            f"gateway alone  {self.alone_accepted / self.alone_elapsed if self.alone_elapsed else 0.0:.1f} msg/s, "
            f"{1000 * self.alone_cpu / max(self.alone_accepted, 1):.1f} ms/msg (the same SMTP server, TLS and "
            f"limits, one durable commit of the raw bytes per message before the 250, same store, same load)",
            f"hub cost  {self.hub_cost:.1f}x (hub CPU per message, receipt included, over the gateway alone's; "
            f"the hub adds {1000 * self.hub_adds:.1f} ms/msg to it)",
            *(roles.render(*self.layouts, self.workers) if self.layouts else []),
        ])


def _share(rate: float, ceiling: float) -> str:
    return f"{100 * rate / ceiling:.0f}%" if ceiling else "n/a"


def _ceiling(gpg_hub: Gpg, hub_fpr: str, sample: bytes, threads: int, seconds: float = 4.0) -> float:
    signed = pgpmime.analyse(sample).signed
    assert signed is not None
    receipt_like = b"Content-Type: text/plain\r\n\r\n" + b"x" * 2000
    stop = time.monotonic() + seconds
    done = [0] * threads

    def work(i: int) -> None:
        while time.monotonic() < stop:
            assert gpg_hub.verify_detached(signed.signed_bytes, signed.signature).valid
            gpg_hub.sign_detached(receipt_like, hub_fpr)
            done[i] += 1

    started = time.monotonic()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(done) / (time.monotonic() - started)


def run_intake_bench(*, count: int, clients: int, size: int, timeout_seconds: float,
                     store_url: str | None = None, amqp_url: str = "", workers: int = 1,
                     in_process: bool = True, duty_desk: bool = False, within: Path | None = None,
                     embedded_url: str | None = None, statements: bool = False) -> IntakeReport:
    """*amqp_url* empty: one embedded hub process; else one gateway and *workers* worker processes on RabbitMQ.
    *in_process*: the hub's [crypto] in_process (false: every verify and sign through gpg). *duty_desk*: register
    one ocam-duty recipient, so that every message is also copied to it (issue 15). *within*: where its
    temporary home is made. With *amqp_url*, the embedded layout runs the same load too, on *embedded_url* (another
    empty database; None: SQLite in its home), for the CPU by role against it; *statements*: the SQL each role runs
    is counted (which costs CPU)."""
    tmp = Path(tempfile.mkdtemp(prefix="pbench", dir=within))
    try:
        report = _run(tmp, count, clients, size, timeout_seconds, store_url, amqp_url, workers if amqp_url else 0,
                      in_process, duty_desk, embedded_url, statements)
        report.store = "SQLite (WAL, synchronous=FULL) in the home" if not store_url else \
            f"PostgreSQL {_server_version(store_url)}"
        return report
    finally:
        for home in tmp.glob("*"):
            stop_agent(home / "gnupg" if (home / "gnupg").exists() else home)
        shutil.rmtree(tmp, ignore_errors=True)


def _server_version(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as c:
            return f"{c.execute(text('SHOW server_version')).scalar()} (fsync {c.execute(text('SHOW fsync')).scalar()})"
    finally:
        engine.dispose()


def _run(tmp: Path, count: int, clients: int, size: int, timeout_seconds: float,
         store_url: str | None = None, amqp_url: str = "", workers: int = 0, in_process: bool = True,
         duty_desk: bool = False, embedded_url: str | None = None, statements: bool = False) -> IntakeReport:
    identity, settings, partner = _home(tmp, store_url, amqp_url, duty_desk)
    sender = partner[0]
    messages = presign(Gpg(tmp / "partner"), partner[1], sender, identity.address, count, size)
    hub_gpg = Gpg(settings.gnupg_home)
    ceiling_threads = settings.gateway.verify_threads
    ceiling = _ceiling(Gpg(settings.gnupg_home, in_process=False), identity.fingerprint, messages[0], ceiling_threads)
    ceiling_in_process = _ceiling(hub_gpg, identity.fingerprint, messages[0], ceiling_threads)
    servers = [s for s in (roles.Server.of("PostgreSQL", store_url, 5432) if _is_pg(store_url) else None,
                           roles.Server.of("broker", amqp_url, 5672) if amqp_url else None) if s]
    run = _hub_run(settings, messages, clients, sender, identity.address, timeout_seconds, workers, in_process,
                   duty_desk, servers, tmp / "statements" if statements else None, store_url)
    sent, captured, layout = run
    embedded = None
    if workers:  # the embedded layout on the same store kind, same load: a fresh home and database
        e_identity, e_settings, _ = _home(tmp / "embedded", embedded_url, "", duty_desk, (tmp / "partner", partner[1]))
        assert e_identity.address == identity.address
        embedded = _hub_run(e_settings, messages, clients, sender, identity.address, timeout_seconds, 0, in_process,
                            duty_desk, [s for s in servers if s.name == "PostgreSQL"] if _is_pg(embedded_url) else [],
                            tmp / "statements-embedded" if statements else None, embedded_url)[2]
    alone = _gateway_alone(tmp, settings.home, store_url, messages, clients, sender, identity.address, timeout_seconds)
    db = Database(settings.database_url)
    with db.reader() as uow:
        checkpoints = dict(Counter(c.reason for c in uow.log.checkpoints()))
    db.dispose()
    start, sent_at = sent.start, sent.sent_at
    receipts = [c for c in captured if sender in c.rcpt_tos]
    copies = [c for c in captured if sender not in c.rcpt_tos]
    lat_receipt = [c.at - sent_at[ref] for c in receipts if (ref := c.message.get("X-Passerelle-Reference")) in sent_at]
    # A copy names its reference in its (visible) Subject only: "Passerelle PSR-...".
    lat_copy = [c.at - sent_at[ref] for c in copies if (ref := _subject_reference(c)) in sent_at]
    return IntakeReport(count, clients, size, len(sent.lat_250), sent.refused, len(receipts), sent.elapsed,
                        (max(c.at for c in receipts) - start) if receipts else 0.0, sent.lat_250, lat_receipt,
                        ceiling, ceiling_threads, sent.hub_cpu, sent.cpu, workers=workers, in_process=in_process,
                        ceiling_in_process=ceiling_in_process, duty_desk=duty_desk, copies=len(copies),
                        elapsed_copies=(max(c.at for c in copies) - start) if copies else 0.0, lat_copy=lat_copy,
                        checkpoints=checkpoints, peak_rss=sent.peak_rss, alone_accepted=len(alone.lat_250),
                        alone_elapsed=alone.elapsed, alone_cpu=alone.cpu,
                        layouts=(layout, embedded) if amqp_url else None)


def _is_pg(url: str | None) -> bool:
    return bool(url) and url.startswith("postgresql")


def _home(root: Path, store_url: str | None, amqp_url: str, duty_desk: bool, partner: tuple[Path, str] | None = None):
    """A fresh hub home under *root* with the bench partner registered (its key made in root/partner, or *partner*'s
    GnuPG home and fingerprint) and, with *duty_desk*, one ocam-duty recipient: (identity, settings, (sender, fpr))."""
    identity = init_with_director(root, store_url=store_url)
    if amqp_url:
        use_broker(root / "hub", amqp_url)
    sender = "bench@police.test"
    partner_gpg = Gpg(partner[0] if partner else root / "partner")
    partner_fpr = partner[1] if partner else partner_gpg.generate_key(f"Bench <{sender}>")
    settings = load(root / "hub")
    hub_gpg = Gpg(settings.gnupg_home)
    db = Database(settings.database_url)
    with db.unit_of_work() as uow:
        director = director_home(root, settings, hub_gpg)
        partners.add(uow, hub_gpg, SystemClock(), director, name="bench-police", kind="police", email=sender,
                     key_data=partner_gpg.export_public(partner_fpr))
        if duty_desk:
            desk_gpg = Gpg(root / "desk")
            desk_fpr = desk_gpg.generate_key("Duty desk <duty@ocam.test>")
            recipients.add(uow, hub_gpg, SystemClock(), director, name="duty-desk", type=OCAM_DUTY, email="duty@ocam.test",
                           key_data=desk_gpg.export_public(desk_fpr), clearance="SECRET")
        uow.commit()
    db.dispose()
    return identity, settings, (sender, partner_fpr)


def _hub_run(settings, messages: list[bytes], clients: int, sender: str, rcpt: str, timeout_seconds: float,
             workers: int, in_process: bool, duty_desk: bool, servers: list, statements: Path | None,
             store_url: str | None):
    """The load against the served hub, every receipt (and copy) awaited: (the load, what the relay captured, the
    CPU seconds by role and by server over it)."""
    commits_before = roles.database_commits(store_url) if _is_pg(store_url) else 0
    with CaptureRelay() as relay, served(settings.home, relay.address, workers, in_process, scheduler=bool(workers),
                                          statements=statements) as (port, cpu):
        before, roles_before, bench_before = cpu(), cpu.by_role(), cpu_seconds(os.getpid())[0]
        servers_before = {s.name: s() for s in servers}
        sent = _drive(port, messages, clients, sender, rcpt, timeout_seconds, reference_in)
        expected = len(sent.lat_250) * (2 if duty_desk else 1)
        captured = relay.wait_for(expected, timeout=max(1.0, timeout_seconds - sent.elapsed))
        after, roles_after = cpu(), cpu.by_role()
        servers_after = {s.name: s() for s in servers}
        sent.peak_rss = cpu.peak_rss()
        sent.hub_cpu = (after[0] - before[0], after[1] - before[1])
        sent.cpu = cpu_seconds(os.getpid())[0] - bench_before
    layout = roles.Layout(len(sent.lat_250), pct(sent.lat_250, 99),
                                {r: roles_after[r] - roles_before[r] for r in roles_after},
                                {n: servers_after[n] - servers_before[n] for n in servers_after},
                                (roles.database_commits(store_url) - commits_before) if _is_pg(store_url) else 0,
                                roles.read_statements(statements) if statements else {})
    return sent, captured, layout


def _subject_reference(captured) -> str | None:
    return reference_in(captured.message.get("Subject") or "")


@dataclass
class _Load:
    """What the load generator saw: 250 latencies, refusals, when each accepted message was sent (by its key)."""

    start: float
    elapsed: float = 0.0
    lat_250: list[float] = field(default_factory=list)
    refused: int = 0
    sent_at: dict[str, float] = field(default_factory=dict)
    cpu: float = 0.0  # the server's CPU seconds over the load (the load generator's, for the hub's run)
    hub_cpu: tuple[float, float] = (0.0, 0.0)  # the hub's run: its processes' own and their children's CPU seconds
    peak_rss: int = 0


def _drive(port: int, messages: list[bytes], clients: int, sender: str, rcpt: str, timeout_seconds: float,
           key) -> _Load:
    """*messages* from *clients* STARTTLS sessions, one transaction after another; *key(text)* of a 250 names
    the message accepted (None: counted refused)."""
    work: queue.Queue[bytes] = queue.Queue()
    for m in messages:
        work.put(m)
    sent = _Load(start=0.0)
    lock = threading.Lock()
    tls = loopback_tls()

    def client() -> None:
        with session(port, timeout=60, tls=tls) as smtp:
            while True:
                try:
                    raw = work.get_nowait()
                except queue.Empty:
                    return
                t0 = time.monotonic()
                text = send(smtp, sender, rcpt, raw)
                t1 = time.monotonic()
                name = key(text) if text is not None else None
                with lock:
                    if name is None:
                        sent.refused += 1
                        continue
                    sent.lat_250.append(t1 - t0)
                    sent.sent_at[name] = t0

    sent.start = time.monotonic()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout_seconds)
    sent.elapsed = time.monotonic() - sent.start
    return sent


SINK_TABLE = "bench_gateway_alone"
STORED = Reply(250, "2.0.0", "Stored durably as row {row} (gateway alone, bench)", "stored")


def _gateway_alone(tmp: Path, home: Path, store_url: str | None, messages: list[bytes], clients: int, sender: str,
                   rcpt: str, timeout_seconds: float) -> _Load:
    """The same load against the gateway alone, as its own process; its CPU over the load."""
    url = store_url or sqlite_url(tmp / "gateway-alone.db")
    with served(home, "", gateway_alone=url) as (port, cpu):
        before = sum(cpu())
        sent = _drive(port, messages, clients, sender, rcpt, timeout_seconds,
                      lambda text: text.partition(" as row ")[2] or None)
        sent.cpu = sum(cpu()) - before
    if store_url:  # the hub's database: the bench's table goes
        from sqlalchemy import MetaData, Table, create_engine

        engine = create_engine(store_url)
        try:
            Table(SINK_TABLE, MetaData()).drop(engine, checkfirst=True)
        finally:
            engine.dispose()
    return sent


def serve_gateway_alone(home: Path, listen: str, url: str) -> None:
    """The hub's SMTP server (the same code, TLS context, limits and gateway threads) whose only work is to commit
    each message's raw bytes in a transaction of its own (store.Database: SQLite WAL, synchronous=FULL, or
    PostgreSQL) before it answers 250; until SIGTERM or SIGINT."""
    from sqlalchemy import Column, DateTime, Integer, LargeBinary, MetaData, String, Table

    from hub.app import gateway_limits

    settings = load(home)
    db = Database(url)
    table = Table(SINK_TABLE, MetaData(), Column("id", Integer, primary_key=True),
                  Column("received_at", DateTime(timezone=True)), Column("mail_from", String(320)),
                  Column("raw", LargeBinary))
    table.metadata.create_all(db.engine)
    insert = table.insert()
    clock = SystemClock()

    def admit(submission: Submission) -> Reply:
        with db.unit_of_work() as uow:
            row = uow.session.execute(insert, {"received_at": clock.now(), "mail_from": submission.mail_from,
                                               "raw": submission.raw}).inserted_primary_key[0]
            uow.commit()
        return STORED.format(row=row)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        with ThreadPoolExecutor(settings.gateway.verify_threads, thread_name_prefix="gateway") as pool:
            handler = IngressHandler(admit=admit, accepts_rcpt=settings.hub.accepts, hub_address=settings.hub.address,
                                     executor=pool, limits=gateway_limits(settings))
            host, port = host_port(listen, 2525)
            server = await start_server(handler, host, port,
                                        tls_context=server_tls_context(str(settings.tls_cert), str(settings.tls_key)),
                                        require_starttls=settings.gateway.require_starttls,
                                        hostname=settings.hub.domain)
            await stop.wait()
            server.close()
            await server.wait_closed()

    try:
        asyncio.run(serve())
    finally:
        db.dispose()


if __name__ == "__main__":  # the gateway alone, started and stopped by served: HOME HOST:PORT STORE-URL
    serve_gateway_alone(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
