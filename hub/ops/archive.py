"""The backup archive as an OpenPGP message: a stream piped through gpg, encrypted to the backup key on its way
out (never in clear on disk), and decrypted again with that key's own GnuPG home.

Streams, not files: a store of gigabytes goes through gpg without being held in memory or written in clear.
The adapter in crypto/ works on whole messages in memory files; this one runs gpg on pipes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from crypto.openpgp.gpg_process import stop_agent, system_binary
from hub.errors import BackupError

_BATCH = ["--batch", "--no-tty", "--quiet", "--no-random-seed-file"]


@dataclass(frozen=True)
class BackupKey:
    """The key a backup is encrypted to, as its file names it."""

    fingerprint: str
    user_id: str


@contextmanager
def _scratch_home() -> Iterator[Path]:
    """An empty, short-lived GnuPG home: encrypting to a key file touches no keyring of the hub's."""
    home = Path(tempfile.mkdtemp(prefix="pbk"))
    try:
        yield home
    finally:
        stop_agent(home)
        shutil.rmtree(home, ignore_errors=True)


def read_key(key_file: Path, *, gpg: str | None = None) -> BackupKey:
    """The one primary key in *key_file* (armoured or binary); refused when it holds none, or several."""
    with _scratch_home() as home:
        out = subprocess.run([gpg or system_binary("gpg"), "--homedir", str(home), *_BATCH, "--with-colons", "--show-keys", str(key_file)],
                             capture_output=True, timeout=60)
    lines = out.stdout.decode(errors="replace").splitlines()
    primaries = [line for line in lines if line.startswith("pub:")]
    if out.returncode != 0 or len(primaries) != 1:
        raise BackupError(f"{key_file} holds {len(primaries)} public keys: name one backup key")
    fingerprints = [line.split(":")[9] for line in lines if line.startswith("fpr:")]
    uids = [line.split(":")[9] for line in lines if line.startswith("uid:")]
    return BackupKey(fingerprints[0], uids[0] if uids else "")


@contextmanager
def encrypted_to(key_file: Path, out: Path, *, gpg: str | None = None) -> Iterator[IO[bytes]]:
    """A writable stream; what is written goes, encrypted to the key of *key_file*, into *out* (made 0600, never
    over an existing file). On any failure *out* is removed."""
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with _scratch_home() as home, tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(
                [gpg or system_binary("gpg"), "--homedir", str(home), *_BATCH, "--encrypt", "--recipient-file", str(key_file),
                 "--compress-algo", "none", "--output", "-"], stdin=subprocess.PIPE, stdout=fd, stderr=errors)
            assert process.stdin is not None
            try:
                yield process.stdin
                process.stdin.close()
            except BaseException:
                process.kill()
                raise
            finally:
                returncode = process.wait(timeout=600)
            if returncode != 0:
                errors.seek(0)
                raise BackupError(f"gpg could not encrypt to {key_file}: {_said(errors)}")
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


@contextmanager
def decrypted(file: Path, key_home: Path, *, gpg: str | None = None) -> Iterator[IO[bytes]]:
    """A readable stream of *file* decrypted with the secret key in the GnuPG home *key_home*. gpg checks the
    message's integrity (its MDC) only at its end: leaving the block, a damaged or truncated file raises
    BackupError, so what was read from it must be thrown away then."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen([gpg or system_binary("gpg"), "--homedir", str(key_home), *_BATCH, "--pinentry-mode", "loopback",
                                    "--passphrase", "", "--decrypt", str(file)],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
        assert process.stdout is not None
        try:
            yield process.stdout
            while process.stdout.read(1 << 16):  # the rest, so that gpg reaches its integrity check
                pass
        except BaseException:
            try:  # gpg may have given up first (another key, no OpenPGP data): its reason is the one to give
                gave_up = process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                gave_up = 0
            if gave_up == 0:
                raise
        finally:
            if process.poll() is None:
                process.kill()
            process.stdout.close()
            returncode = process.wait(timeout=600)
        if returncode != 0:
            errors.seek(0)
            raise BackupError(f"gpg could not decrypt {file} with the keys of {key_home}: {_said(errors)}")


def _said(errors: IO[bytes]) -> str:
    """gpg's last words, short."""
    lines = [line.strip() for line in errors.read()[-2000:].decode(errors="replace").splitlines() if line.strip()]
    return "; ".join(lines[-3:]) or "no reason given"
