"""Test keys made with the gpg command line (never with crypto/, the code under test)."""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

GPG = "gpg"
_HOMES: list[Path] = []  # every home made here: their agents are killed at exit
_BY_EMAIL: dict[str, list["TestKey"]] = {}  # every key made here, by address, newest last
_MAX_HOME = 70  # gpg-agent socket paths must stay under ~100 characters


@dataclass
class TestKey:
    __test__ = False  # not a pytest test class

    home: Path
    fingerprint: str
    email: str
    public: bytes  # armoured public key
    faked_time: str | None = None  # gpg --faked-system-time for signing (keys made in the past)


def short_home(tmp: Path, prefix: str = "pg") -> Path:
    """A fresh 0700 directory under tmp, or under /tmp when tmp is too long for agent sockets."""
    tmp = Path(tmp)
    base = tmp if len(str(tmp)) < _MAX_HOME - 12 else Path("/tmp")
    home = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    home.chmod(0o700)
    _HOMES.append(home)
    return home


def gpg(home: Path, *args: str, data: bytes = b"", faked_time: str | None = None) -> bytes:
    """Run gpg in batch mode on home; raise with gpg's stderr if it fails."""
    cmd = [GPG, "--homedir", str(home), "--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback",
           "--passphrase", "", "--no-random-seed-file", "--trust-model", "always"]
    if faked_time:
        cmd += ["--faked-system-time", faked_time, "--ignore-time-conflict"]
    proc = subprocess.run(cmd + list(args), input=data, capture_output=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"gpg {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def _fingerprint(home: Path, email: str) -> str:
    out = gpg(home, "--with-colons", "--list-keys", f"<{email}>").decode()
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))


def make_key(tmp: Path, email: str, *, name: str = "Test", algo: str = "ed25519", expire: str = "0",
             signing_subkey: bool = False, faked_time: str | None = None, encryption: bool = True) -> TestKey:
    """A new key pair in its own home. algo "ed25519" or "rsa3072"; signing_subkey: certify-only primary;
    encryption: with an encryption subkey (without, nothing can be encrypted to it)."""
    home = short_home(tmp)
    uid = f"{name} <{email}>"
    sign_algo, encr_algo = ("ed25519", "cv25519") if algo == "ed25519" else (algo, algo)
    t = {"faked_time": faked_time}
    gpg(home, "--quick-gen-key", uid, sign_algo, "cert" if signing_subkey else "sign", expire, **t)
    fpr = _fingerprint(home, email)
    if signing_subkey:
        gpg(home, "--quick-add-key", fpr, sign_algo, "sign", expire, **t)
    if encryption:
        gpg(home, "--quick-add-key", fpr, encr_algo, "encr", expire, **t)
    public = gpg(home, "--armor", "--export", fpr)
    key = TestKey(home, fpr, email, public, faked_time)
    _BY_EMAIL.setdefault(email.lower(), []).append(key)
    return key


def made_for(email: str) -> list[TestKey]:
    """The keys made here for *email*, newest first (a test's partner keys, to read what the hub sent them)."""
    return list(reversed(_BY_EMAIL.get(email.lower(), [])))


def expired_key(tmp: Path, email: str) -> TestKey:
    """A key made in 2020 that expired a day later; it signs at its faked creation time."""
    return make_key(tmp, email, expire="1d", faked_time="20200101T120000")


def revoke(key: TestKey) -> bytes:
    """Revoke key in its own home (with the certificate gpg made at creation); return the revoked public key."""
    cert = (key.home / "openpgp-revocs.d" / f"{key.fingerprint}.rev").read_bytes()
    cert = cert.replace(b":-----BEGIN PGP PUBLIC KEY BLOCK-----", b"-----BEGIN PGP PUBLIC KEY BLOCK-----")
    gpg(key.home, "--import", data=cert)
    key.public = gpg(key.home, "--armor", "--export", key.fingerprint)
    return key.public


def sign_detached(key: TestKey, data: bytes, *, digest: str = "SHA256") -> bytes:
    """An armoured detached signature over data, made by key (its signing subkey if it has one)."""
    return gpg(key.home, "--armor", "--detach-sign", "--digest-algo", digest, "--local-user", key.fingerprint,
               data=data, faked_time=key.faked_time)


def kill_agent(home: Path) -> None:
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True, timeout=30)


def cleanup(key: TestKey) -> None:
    """Stop the key's gpg-agent and remove its home."""
    kill_agent(key.home)
    shutil.rmtree(key.home, ignore_errors=True)


@atexit.register
def cleanup_all() -> None:
    """Stop every agent started in a home made here (safe to call more than once)."""
    while _HOMES:
        home = _HOMES.pop()
        if home.exists():
            kill_agent(home)
            if str(home).startswith("/tmp/pg"):
                shutil.rmtree(home, ignore_errors=True)
