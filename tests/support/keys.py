"""Test keys made with the gpg command line (never with crypto/, the code under test)."""

from __future__ import annotations

import atexit
import dataclasses
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from crypto.openpgp.gpg_process import stop_agent
from hub.tools.client import gpg_cli
from hub.tools.client.gpg_cli import gpg

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
             signing_subkey: bool = False, faked_time: str | None = None, encryption: bool = True,
             usage: str | None = None) -> TestKey:
    """A new key pair in its own home. algo "ed25519" or "rsa3072"; signing_subkey: certify-only primary;
    encryption: an encryption subkey (cv25519 for ed25519); usage: the primary's, instead of cert or sign."""
    made = gpg_cli.make_key(short_home(tmp), email, name=name, algo=algo, expire=expire,
                            signing_subkey=signing_subkey, faked_time=faked_time, encryption=encryption, usage=usage)
    key = TestKey(**dataclasses.asdict(made))
    _BY_EMAIL.setdefault(email.lower(), []).append(key)
    return key


def made_for(email: str) -> list[TestKey]:
    """The keys made here for *email*, newest first (a test's partner keys, to read what the hub sent them)."""
    return list(reversed(_BY_EMAIL.get(email.lower(), [])))


def subkeys(key: TestKey) -> list[str]:
    """The fingerprints of key's subkeys, in its keyblock's order."""
    out = gpg(key.home, "--with-colons", "--list-keys", key.fingerprint).decode().splitlines()
    return [out[i + 1].split(":")[9] for i, line in enumerate(out[:-1]) if line.startswith("sub:")]


def add_subkey(key: TestKey, algo: str = "cv25519", usage: str = "encr", expire: str = "0", *,
               faked_time: str | None = None) -> str:
    """A new subkey of key (made at *faked_time*, e.g. "20250601T000000!", if given); its fingerprint."""
    gpg(key.home, "--quick-add-key", key.fingerprint, algo, usage, expire, faked_time=faked_time)
    key.public = gpg(key.home, "--armor", "--export", key.fingerprint)
    return subkeys(key)[-1]


def revoke_subkey(key: TestKey, subkey: str) -> bytes:
    """Revoke one subkey of key in its home (gpg --edit-key, "key N", "revkey"); return the public key."""
    number = subkeys(key).index(subkey) + 1
    script = f"key {number}\nrevkey\ny\n0\n\ny\nsave\n".encode()
    gpg(key.home, "--command-fd", "0", "--edit-key", key.fingerprint, data=script)
    key.public = gpg(key.home, "--armor", "--export", key.fingerprint)
    return key.public


def set_preferences(key: TestKey, preferences: str) -> bytes:
    """Set the key's preferred algorithms (gpg --edit-key setpref, e.g. "AES128 SHA256 ZLIB"); the public key."""
    gpg(key.home, "--command-fd", "0", "--edit-key", key.fingerprint, data=f"setpref {preferences}\ny\nsave\n".encode())
    key.public = gpg(key.home, "--armor", "--export", key.fingerprint)
    return key.public


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
