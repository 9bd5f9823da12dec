"""Test keys made with the gpg command line (never with crypto/, the code under test)."""

from __future__ import annotations

import atexit
import dataclasses
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from crypto.openpgp.gpg_process import stop_agent
from hub.tools import gpg_cli
from hub.tools.gpg_cli import gpg

__all__ = ["TestKey", "cleanup", "cleanup_all", "expired_key", "gpg", "made_for", "make_key", "revoke", "short_home",
           "sign_detached"]

_HOMES: list[Path] = []  # every home made here: their agents are killed at exit
_BY_EMAIL: dict[str, list["TestKey"]] = {}  # every key made here, by address, newest last
_MAX_HOME = 70  # gpg-agent socket paths must stay under ~100 characters


@dataclass
class TestKey(gpg_cli.Key):
    __test__ = False  # not a pytest test class


def short_home(tmp: Path, prefix: str = "pg") -> Path:
    """A fresh 0700 directory under tmp, or under /tmp when tmp is too long for agent sockets."""
    tmp = Path(tmp)
    base = tmp if len(str(tmp)) < _MAX_HOME - 12 else Path("/tmp")
    home = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    home.chmod(0o700)
    _HOMES.append(home)
    return home


def make_key(tmp: Path, email: str, *, name: str = "Test", algo: str = "ed25519", expire: str = "0",
             signing_subkey: bool = False, faked_time: str | None = None, encryption: bool = True) -> TestKey:
    """A new key pair in its own home. algo "ed25519" or "rsa3072"; signing_subkey: certify-only primary;
    encryption: with an encryption subkey (without, nothing can be encrypted to it)."""
    made = gpg_cli.make_key(short_home(tmp), email, name=name, algo=algo, expire=expire,
                            signing_subkey=signing_subkey, faked_time=faked_time, encryption=encryption)
    key = TestKey(**dataclasses.asdict(made))
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


def cleanup(key: TestKey) -> None:
    """Stop the key's gpg-agent and remove its home."""
    stop_agent(key.home)
    shutil.rmtree(key.home, ignore_errors=True)


@atexit.register
def cleanup_all() -> None:
    """Stop every agent started in a home made here (safe to call more than once)."""
    while _HOMES:
        home = _HOMES.pop()
        if home.exists():
            stop_agent(home)
            if str(home).startswith("/tmp/pg"):
                shutil.rmtree(home, ignore_errors=True)
