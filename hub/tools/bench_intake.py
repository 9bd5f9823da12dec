"""The intake benchmark: N signed messages from C SMTP clients into a fresh hub, receipts captured."""

from __future__ import annotations

import contextlib
import os
import platform
import queue
import re
import resource
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import format_datetime, make_msgid
from pathlib import Path

from crypto import Gpg
from crypto.mime import compose, pgpmime
from crypto.openpgp.gpg_process import stop_agent, system_binary
from gateway.capture import CaptureRelay

from hub.registry import partners, recipients
from hub.registry.recipients import OCAM_DUTY
from hub.clock import SystemClock
from hub.settings import load

from .director import director_home, init_with_director


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


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

    @property
    def accept_rate(self) -> float:
        return self.accepted / self.elapsed_250 if self.elapsed_250 else 0.0

    @property
    def receipt_rate(self) -> float:
        return self.receipts / self.elapsed_receipts if self.elapsed_receipts else 0.0

    def render(self) -> str:
        cpu = _cpu_model()
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
            f"250 latency  p50 {ms(_pct(self.lat_250, 50))}  p99 {ms(_pct(self.lat_250, 99))}",
            f"receipt lat. p50 {ms(_pct(self.lat_receipt, 50))}  p99 {ms(_pct(self.lat_receipt, 99))}  (DATA sent -> receipt at relay)",
            *([f"copies       {self.copies} inbound copies to the duty desk (signed, encrypted to its key) after "
               f"{self.elapsed_copies:.2f} s; DATA sent -> copy at relay p50 {ms(_pct(self.lat_copy or [], 50))} "
               f"p99 {ms(_pct(self.lat_copy or [], 99))}"] if self.duty_desk else
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
        ])


def _share(rate: float, ceiling: float) -> str:
    return f"{100 * rate / ceiling:.0f}%" if ceiling else "n/a"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"


def _entity(n: int, size: int, urgency: str = "URGENT") -> bytes:
    filler = ("Bench line %06d lorem ipsum dolor sit amet consectetur adipiscing elit.\r\n" % n) * (size // 76 + 1)
    return ("Content-Type: text/plain; charset=us-ascii\r\n\r\nUrgency: " + urgency + "\r\nMessage-Kind: request\r\n\r\n"
            + filler[:size]).encode()


def _presign(gpg: Gpg, fpr: str, sender: str, to: str, count: int, size: int, urgency: str = "URGENT") -> list[bytes]:
    def one(n: int) -> bytes:
        headers = [("From", sender), ("To", to), ("Subject", f"bench {n}"),
                   ("Date", format_datetime(SystemClock().now())), ("Message-ID", make_msgid(f"b{n}", "police.test"))]
        return compose.sign_entity(gpg, _entity(n, size, urgency), fpr, headers)

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(count)))


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
                     in_process: bool = True, duty_desk: bool = False, within: Path | None = None) -> IntakeReport:
    """*amqp_url* empty: one embedded hub process; else one gateway and *workers* worker processes on RabbitMQ.
    *in_process*: the hub's [crypto] in_process (false: every verify and sign through gpg). *duty_desk*: register
    one ocam-duty recipient, so that every message is also copied to it (issue 15). *within*: where its
    temporary home is made."""
    tmp = Path(tempfile.mkdtemp(prefix="pbench", dir=within))
    try:
        report = _run(tmp, count, clients, size, timeout_seconds, store_url, amqp_url, workers if amqp_url else 0,
                      in_process, duty_desk)
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
         duty_desk: bool = False) -> IntakeReport:
    identity = init_with_director(tmp, store_url=store_url)
    if amqp_url:
        use_broker(tmp / "hub", amqp_url)
    partner_gpg = Gpg(tmp / "partner")
    sender = "bench@police.test"
    partner_fpr = partner_gpg.generate_key(f"Bench <{sender}>")
    settings = load(tmp / "hub")
    hub_gpg = Gpg(settings.gnupg_home)
    from store import Database

    db = Database(settings.database_url)
    with db.unit_of_work() as uow:
        director = director_home(tmp, settings, hub_gpg)
        partners.add(uow, hub_gpg, SystemClock(), director, name="bench-police", kind="police", email=sender,
                     key_data=partner_gpg.export_public(partner_fpr))
        if duty_desk:
            desk_gpg = Gpg(tmp / "desk")
            desk_fpr = desk_gpg.generate_key("Duty desk <duty@ocam.test>")
            recipients.add(uow, hub_gpg, SystemClock(), director, name="duty-desk", type=OCAM_DUTY, email="duty@ocam.test",
                           key_data=desk_gpg.export_public(desk_fpr), clearance="SECRET")
        uow.commit()
    db.dispose()
    messages = _presign(partner_gpg, partner_fpr, sender, identity.address, count, size)
    ceiling_threads = settings.gateway.verify_threads
    ceiling = _ceiling(Gpg(settings.gnupg_home, in_process=False), identity.fingerprint, messages[0], ceiling_threads)
    ceiling_in_process = _ceiling(hub_gpg, identity.fingerprint, messages[0], ceiling_threads)

    work: queue.Queue[bytes] = queue.Queue()
    for m in messages:
        work.put(m)
    sent_at: dict[str, float] = {}
    lat_250: list[float] = []
    refused = [0]
    lock = threading.Lock()
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE

    with CaptureRelay() as relay, _served(settings.home, relay.address, workers, in_process) as (port, cpu):
        cpu_before = cpu()
        bench_before = _own_cpu()
        def client() -> None:
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
                smtp.starttls(context=tls)
                smtp.ehlo()
                while True:
                    try:
                        raw = work.get_nowait()
                    except queue.Empty:
                        return
                    t0 = time.monotonic()
                    reference = _send(smtp, sender, identity.address, raw)
                    t1 = time.monotonic()
                    with lock:
                        if reference is None:
                            refused[0] += 1
                            continue
                        lat_250.append(t1 - t0)
                        sent_at[reference] = t0

        start = time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout_seconds)
        elapsed_250 = time.monotonic() - start
        expected = len(lat_250) * (2 if duty_desk else 1)
        captured = relay.wait_for(expected, timeout=max(1.0, timeout_seconds - elapsed_250))
        cpu_after = cpu()
        hub_cpu = (cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1])
        bench_cpu = _own_cpu() - bench_before
        receipts = [c for c in captured if sender in c.rcpt_tos]
        copies = [c for c in captured if sender not in c.rcpt_tos]
        elapsed_receipts = (max(c.at for c in receipts) - start) if receipts else 0.0
        lat_receipt = [c.at - sent_at[ref] for c in receipts
                       if (ref := c.message.get("X-Passerelle-Reference")) in sent_at]
        # A copy names its reference in its (visible) Subject only: "Passerelle PSR-...".
        lat_copy = [c.at - sent_at[ref] for c in copies if (ref := _subject_reference(c)) in sent_at]
    db = Database(settings.database_url)
    with db.reader() as uow:
        checkpoints = dict(Counter(c.reason for c in uow.log.checkpoints()))
    db.dispose()
    return IntakeReport(count, clients, size, len(lat_250), refused[0], len(receipts), elapsed_250,
                        elapsed_receipts, lat_250, lat_receipt, ceiling, ceiling_threads, hub_cpu, bench_cpu,
                        workers=workers, in_process=in_process, ceiling_in_process=ceiling_in_process,
                        duty_desk=duty_desk, copies=len(copies),
                        elapsed_copies=(max(c.at for c in copies) - start) if copies else 0.0, lat_copy=lat_copy,
                        checkpoints=checkpoints)


def _subject_reference(captured) -> str | None:
    match = re.search(r"PSR-\d{4}-\d{6}", captured.message.get("Subject") or "")
    return match.group(0) if match else None


def use_broker(home: Path, url: str) -> None:
    """Point a home's settings at RabbitMQ, in a namespace of its own."""
    path = home / "passerelle.toml"
    text = path.read_text()
    marker = '\n[transport]\n'
    assert marker in text and '\nurl = ""' in text.split(marker, 1)[1]
    head, transport = text.split(marker, 1)
    transport = transport.replace('url = ""', f'url = "{url}"\nnamespace = "bench-{os.getpid()}-{time.time_ns()}"', 1)
    path.write_text(head + marker + transport)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """(own, waited-for children) CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


@contextlib.contextmanager
def _served(home: Path, relay: str, workers: int = 0, in_process: bool = True, env: dict[str, str] | None = None):
    """The hub as its own process(es) (`passerelle serve`), as deployed: the load generator does not share its GIL.

    workers == 0: one `--role all` process; else one gateway and *workers* worker processes. *env*: more
    settings (PASSERELLE_...) for them. Their stderr (the log) goes to HOME/serve.log.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    roles = ["all"] if workers == 0 else ["gateway"] + ["worker"] * workers
    log_file = open(home / "serve.log", "wb")
    processes = [subprocess.Popen([sys.executable, "-m", "hub", "serve", "--home", str(home), "--role", role,
                                   "--listen", f"127.0.0.1:{port}", "--relay", relay],
                                  stdout=subprocess.DEVNULL, stderr=log_file,
                                  env={**os.environ, "PASSERELLE_CRYPTO__IN_PROCESS": str(in_process).lower(),
                                       # the load generator is one client address: it may take every slot
                                       "PASSERELLE_GATEWAY__MAX_CONNECTIONS_PER_CLIENT": "1000",
                                       "PASSERELLE_METRICS__LISTEN": "", **(env or {})})
                 for role in roles]
    try:
        for _ in range(600):
            if any(p.poll() is not None for p in processes):
                raise RuntimeError(f"passerelle serve exited: {(home / 'serve.log').read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        if workers:  # every worker connected to the broker before the clock starts
            for _ in range(600):
                if (home / "serve.log").read_text().count("transport: connected") >= len(roles):
                    break
                time.sleep(0.05)

        def cpu() -> tuple[float, float]:
            figures = [_cpu_seconds(p.pid) for p in processes]
            return sum(f[0] for f in figures), sum(f[1] for f in figures)

        yield port, cpu
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        log_file.close()


def _send(smtp: smtplib.SMTP, sender: str, rcpt: str, raw: bytes) -> str | None:
    """One transaction on an open session; the reference from the 250 ("Accepted as PSR-..."), or None."""
    try:
        smtp.mail(sender)
        smtp.rcpt(rcpt)
        code, text = smtp.data(raw)
    except smtplib.SMTPResponseException:
        smtp.rset()
        return None
    match = re.search(r"PSR-\d{4}-\d{6}", text.decode(errors="replace"))
    return match.group(0) if match else None
