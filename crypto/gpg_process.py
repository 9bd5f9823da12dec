"""Running one gpg process: its input on memory files (memfd), its exit awaited on a pidfd, bounded in time,
and what it said (status lines, output, exit code). The OpenPGP verbs are in crypto/gpg.py."""

from __future__ import annotations

import os
import select
import subprocess
import tempfile
from typing import Sequence

import gnupg

from crypto.errors import GpgUnavailable


class Outcome:
    """What one gpg process said: its status lines, its output, its exit code."""

    def __init__(self) -> None:
        self.status: list[tuple[str, str]] = []
        self.data = b""
        self.stderr = ""
        self.returncode: int | None = None

    def handle_status(self, key: str, value: str) -> None:
        self.status.append((key, value))

    def has(self, keyword: str) -> bool:
        return any(k == keyword for k, _ in self.status)

    def values(self, keyword: str) -> list[str]:
        return [v for k, v in self.status if k == keyword]


class Engine(gnupg.GPG):
    """python-gnupg builds the gpg command; the process is run here, bounded by the per-call time limit.

    On Linux its stdin, stdout and stderr are memory files (memfd) and its exit is awaited on a pidfd:
    one blocking wait per call, instead of a poll loop that wakes for every status line gpg writes and
    a wait that sleeps in steps. Elsewhere, pipes and one ``communicate``.
    """

    def __init__(self, *, timeout: float, **kwargs) -> None:
        self._timeout = timeout
        super().__init__(**kwargs)

    def run(self, args: Sequence[str], data: bytes, *, files: Sequence[bytes] = ()) -> Outcome:
        """Run gpg with *args* and *data* on its stdin. ``input_file(i)`` in *args* names the i-th of *files*."""
        try:
            if _MEMFD:
                return self._run_memfd(args, data, files)
            return self._run_piped(args, data, files)
        except OSError as exc:
            raise GpgUnavailable(f"gpg {args[0]} failed: {exc.__class__.__name__}") from exc

    def _run_memfd(self, args: Sequence[str], data: bytes, files: Sequence[bytes]) -> Outcome:
        verb, fds = args[0], []
        try:
            for content in (data, b"", b"", *files):
                fds.append(_memfd(content))
            stdin, stdout, stderr, *extra = fds
            if extra:  # gpg reads "-&N" as file descriptor N
                args = ["--enable-special-filenames", *_named(args, [f"-&{fd}" for fd in extra])]
            try:
                proc = subprocess.Popen(self.make_args(list(args), False), stdin=stdin, stdout=stdout, stderr=stderr,
                                        pass_fds=extra, env=self.env)
            except (OSError, ValueError) as exc:
                raise GpgUnavailable(f"gpg {verb} failed to run: {exc.__class__.__name__}") from exc
            self._wait(proc, verb)
            return _outcome(proc.returncode, _read_all(stdout), _read_all(stderr), verb)
        finally:
            for fd in fds:
                os.close(fd)

    def _wait(self, proc: subprocess.Popen, verb: str) -> None:
        """Until gpg exits, at most the time limit (then it is killed)."""
        try:
            pidfd = os.pidfd_open(proc.pid)
        except OSError:  # no pidfd (kernel < 5.3): Popen's own bounded wait
            pidfd = None
        try:
            if pidfd is not None:
                poller = select.poll()
                poller.register(pidfd, select.POLLIN)
                if not poller.poll(int(self._timeout * 1000)):
                    raise subprocess.TimeoutExpired(proc.args, self._timeout)
                proc.wait()
            else:
                proc.wait(self._timeout)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.wait()
            raise GpgUnavailable(f"gpg {verb} timed out after {self._timeout:g} s") from exc
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def _run_piped(self, args: Sequence[str], data: bytes, files: Sequence[bytes]) -> Outcome:
        paths: list[str] = []
        try:
            for content in files:
                fd, path = tempfile.mkstemp(prefix="pg-in-")
                paths.append(path)
                with os.fdopen(fd, "wb") as f:
                    f.write(content)
            try:
                proc = self._open_subprocess(_named(args, paths))
            except (OSError, ValueError) as exc:
                raise GpgUnavailable(f"gpg {args[0]} failed to run: {exc.__class__.__name__}") from exc
            try:
                out, err = proc.communicate(data, timeout=self._timeout)
            except subprocess.TimeoutExpired as exc:
                proc.kill()
                proc.communicate()
                raise GpgUnavailable(f"gpg {args[0]} timed out after {self._timeout:g} s") from exc
            except OSError:
                proc.kill()
                raise
            return _outcome(proc.returncode, out, err, args[0])
        finally:
            for path in paths:
                os.unlink(path)


def input_file(index: int) -> str:
    """In the arguments of ``Engine.run``: the name under which gpg reads its index-th input file
    (a NUL can never be part of a real argument, so the marker cannot clash with one)."""
    return f"\0{index}"


def _named(args: Sequence[str], names: Sequence[str]) -> list[str]:
    return [names[int(a[1:])] if a.startswith("\0") else a for a in args]


_MEMFD = hasattr(os, "memfd_create") and hasattr(os, "pidfd_open")


def _memfd(content: bytes) -> int:
    fd = os.memfd_create("passerelle-gpg", os.MFD_CLOEXEC)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd


def _read_all(fd: int) -> bytes:
    size = os.lseek(fd, 0, os.SEEK_END)
    chunks, offset = [], 0
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _outcome(returncode: int | None, out: bytes, err: bytes, verb: str) -> Outcome:
    outcome = Outcome()
    outcome.data = out
    outcome.stderr = err.decode("utf-8", errors="replace")
    for line in outcome.stderr.splitlines():
        if line.startswith("[GNUPG:] "):
            keyword, _, value = line[9:].partition(" ")
            outcome.handle_status(keyword, value)
    outcome.returncode = returncode
    if returncode is None or returncode < 0:
        raise GpgUnavailable(f"gpg {verb} ended abnormally (rc {returncode})")
    return outcome
