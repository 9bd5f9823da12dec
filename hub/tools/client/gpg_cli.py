"""The gpg command line, for the tools and the tests: keys, signatures and checks made without crypto/."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from crypto.openpgp.gpg_process import system_binary

_BATCH = ("--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", "",
          "--no-random-seed-file", "--trust-model", "always")


@dataclass
class Key:
    """A key pair in its own GnuPG home (what client.mail signs with)."""

    home: Path
    fingerprint: str
    email: str
    public: bytes  # armoured public key
    faked_time: str | None = None  # gpg --faked-system-time for signing (keys made in the past)


def gpg(home: Path, *args: str, data: bytes = b"", faked_time: str | None = None) -> bytes:
    """Run gpg in batch mode on home; raise with gpg's stderr if it fails."""
    proc = run(home, *args, data=data, faked_time=faked_time)
    if proc.returncode != 0:
        raise RuntimeError(f"gpg {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def run(home: Path, *args: str, data: bytes = b"", faked_time: str | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess:
    """gpg in batch mode on home, whatever its exit code (a check's refusal is an answer, not an error)."""
    cmd = [system_binary("gpg"), "--homedir", str(home), *_BATCH]
    if faked_time:
        cmd += ["--faked-system-time", faked_time, "--ignore-time-conflict"]
    return subprocess.run(cmd + list(args), input=data, capture_output=True, timeout=timeout)


def status(out: bytes) -> list[tuple[str, str]]:
    """The `[GNUPG:] KEYWORD args` lines of a --status-fd output, as (keyword, args)."""
    found = []
    for line in out.splitlines():
        if line.startswith(b"[GNUPG:] "):
            keyword, _, rest = line[9:].decode("utf-8", "replace").partition(" ")
            found.append((keyword, rest))
    return found


def fingerprint_of(home: Path, email: str) -> str:
    out = gpg(home, "--with-colons", "--list-keys", f"<{email}>").decode()
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))


def make_key(home: Path, email: str, *, name: str = "Test", algo: str = "ed25519", expire: str = "0",
             signing_subkey: bool = False, faked_time: str | None = None, encryption: bool = True,
             usage: str | None = None) -> Key:
    """A new key pair in *home* (an empty 0700 directory). algo "ed25519" or "rsa3072"; signing_subkey: a
    certify-only primary with a signing subkey; encryption: with an encryption subkey (cv25519 for ed25519;
    without, nothing can be encrypted to it); usage: the primary's, instead of cert or sign."""
    uid = f"{name} <{email}>"
    sign_algo, encr_algo = ("ed25519", "cv25519") if algo == "ed25519" else (algo, algo)
    # made at *faked_time* frozen (gpg's "!"): a key of a given time is never younger than its first signature
    t = {"faked_time": faked_time if not faked_time or faked_time.endswith("!") else faked_time + "!"}
    gpg(home, "--quick-gen-key", uid, sign_algo, usage or ("cert" if signing_subkey else "sign"), expire, **t)
    fpr = fingerprint_of(home, email)
    if signing_subkey:
        gpg(home, "--quick-add-key", fpr, sign_algo, "sign", expire, **t)
    if encryption:
        gpg(home, "--quick-add-key", fpr, encr_algo, "encr", expire, **t)
    return Key(home, fpr, email, gpg(home, "--armor", "--export", fpr), faked_time)
