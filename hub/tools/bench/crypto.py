"""The adapter's encryptions alone: entities signed by the hub and encrypted to one key per second, in process and
through gpg processes, with the CPU each costs (this process and its gpg children)."""

from __future__ import annotations

import os
import platform
import random
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from crypto import Gpg
from crypto.openpgp.gpg_process import stop_agent, system_binary

from .load import cpu_model


@dataclass
class Rate:
    per_second: float
    cpu_ms: float  # CPU per encryption: this process and the gpg processes it waited for


def run_crypto_bench(*, size: int = 20_000, threads: int = 4, seconds: float = 3.0) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="pbc"))
    homes = [tmp / name for name in ("hub", "cv25519", "rsa3072")]
    try:
        hub = Gpg(homes[0])
        signer = hub.generate_key("Hub <hub@ocam.test>")
        keys = {"cv25519": Gpg(homes[1]).generate_key("Desk <desk@ocam.test>"),
                "rsa-3072": _rsa_key(homes[2], "Analyst <analyst@ocam.test>")}
        for home, fpr in zip(homes[1:], keys.values()):
            hub.import_keys(Gpg(home).export_public(fpr))
            Gpg(home).import_keys(hub.export_public(signer))
        entity = _entity(size)
        gpg_alone = Gpg(homes[0], in_process=False)
        lines = [f"machine      {os.cpu_count()} cores, {cpu_model()}; Python {platform.python_version()}; "
                 + subprocess.run([system_binary("gpg"), "--version"], capture_output=True, text=True).stdout.splitlines()[0],
                 f"load         {size}-byte entities signed by the hub (ed25519) and encrypted to one key, "
                 f"{threads} threads, {seconds:g} s each; CPU: this process and its gpg children"]
        for (kind, fpr), home in zip(keys.items(), homes[1:]):
            sizes = []
            for adapter in (hub, gpg_alone):  # one message each way, opened by the recipient before any timing
                message = adapter.encrypt(entity, [fpr], sign_with=signer)
                opened = Gpg(home).decrypt(message)
                assert opened.plaintext == entity and opened.signature is not None and opened.signature.valid
                sizes.append(len(message))
            here, alone = (_rate(adapter, entity, fpr, signer, threads, seconds) for adapter in (hub, gpg_alone))
            lines.append(f"{kind:<12} in process {here.per_second:7.1f}/s, {here.cpu_ms:5.2f} ms CPU each, "
                         f"{sizes[0]} bytes;  gpg {alone.per_second:6.1f}/s, {alone.cpu_ms:5.2f} ms CPU each, "
                         f"{sizes[1]} bytes (compressed);  {here.per_second / alone.per_second:.0f}x the rate")
        return "\n".join(lines)
    finally:
        for home in homes:
            stop_agent(home)
        shutil.rmtree(tmp, ignore_errors=True)


def _entity(size: int) -> bytes:
    """A text entity of *size* bytes that compresses about as prose does (words drawn from a vocabulary)."""
    words = [f"{a}{b}{c}" for a in ("con", "ver", "tra", "pol", "dis", "ana", "re", "in") for b in
             ("vo", "men", "si", "i", "por", "ly", "sea", "ci", "ti", "ge", "cie", "for") for c in
             ("", "s", "nt", "ce", "r", "l")]
    draw = random.Random(size)
    lines, length = [], 0
    while length < size:
        lines.append(" ".join(draw.choices(words, k=10)).capitalize() + ".\r\n")
        length += len(lines[-1])
    return b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + "".join(lines).encode()[:size]


def _rate(gpg: Gpg, entity: bytes, fpr: str, signer: str, threads: int, seconds: float) -> Rate:
    stop = time.monotonic() + seconds
    done = [0] * threads

    def work(i: int) -> None:
        while time.monotonic() < stop:
            gpg.encrypt(entity, [fpr], sign_with=signer)
            done[i] += 1

    cpu_before, started = _cpu(), time.monotonic()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed, total = time.monotonic() - started, max(sum(done), 1)
    return Rate(sum(done) / elapsed, 1000 * (_cpu() - cpu_before) / total)


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _rsa_key(home: Path, uid: str) -> str:
    """An RSA-3072 key (certify and sign) with an RSA-3072 encryption subkey, made with gpg's command line."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    gpg = [system_binary("gpg"), "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
    subprocess.run([*gpg, "--quick-gen-key", uid, "rsa3072", "sign", "0"], check=True, capture_output=True, timeout=300)
    listing = subprocess.run([*gpg, "--with-colons", "--list-keys"], check=True, capture_output=True, text=True).stdout
    fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    subprocess.run([*gpg, "--quick-add-key", fpr, "rsa3072", "encr", "0"], check=True, capture_output=True, timeout=300)
    return fpr

