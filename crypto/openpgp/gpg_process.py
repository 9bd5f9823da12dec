"""Running one gpg process, bounded: its input on memory files (memfd), its output read from a pipe up to
a limit, its status lines on a memory file that cannot grow past one, its time limited; and what it said
(status lines, output, exit code). The OpenPGP verbs are in crypto/gpg.py."""

from __future__ import annotations

import fcntl
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Sequence

import gnupg

from crypto.errors import GpgOutputTooLarge, GpgTimedOut, GpgUnavailable

# Where the system's GnuPG is looked for when no binary is named: the distribution's directories, never
# the environment's PATH (a `gpg` earlier in PATH is not the one the hub trusts with its keys).
SYSTEM_BIN_DIRS = ("/usr/bin", "/bin", "/usr/local/bin")

# What gpg may write, unless the call names another limit for its output: far beyond any key listing,
# signature or ciphertext the hub makes; decryption passes its own, smaller limit (crypto/gpg.py).
MAX_OUTPUT_BYTES = 256 * 1024 * 1024
# Status lines and messages (stderr): a few kilobytes for one call; 256 KiB is some 2,500 lines. Past it
# gpg stops (--exit-on-status-write-error) and the call fails: a flood of status lines only comes from
# input that makes gpg repeat itself (thousands of signatures or session keys).
MAX_STATUS_BYTES = 256 * 1024
_STATUS_SLACK = 64 * 1024  # room for the writes in flight when the limit is passed
_READ = 64 * 1024


def system_binary(name: str) -> str:
    """The absolute path of the system's *name* (gpg, gpgconf) in SYSTEM_BIN_DIRS; *name* itself if absent
    (running it then fails with GpgUnavailable, never with a lookup in PATH)."""
    found = shutil.which(name, path=os.pathsep.join(SYSTEM_BIN_DIRS))
    return found or str(Path(SYSTEM_BIN_DIRS[0]) / name)


def stop_agent(home: Path) -> None:
    """Stop the gpg-agent serving the GnuPG home *home*, if one runs (the system's gpgconf; bounded: 30 s)."""
    try:
        subprocess.run([system_binary("gpgconf"), "--homedir", str(home), "--kill", "gpg-agent"],
                       capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        pass


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
    """python-gnupg builds the gpg command; the process is run here, bounded in time and in what it writes.

    Its stdin and the extra input files are memory files (memfd on Linux, temporary files elsewhere); its
    stdout is a pipe read here until gpg closes it, and gpg is killed as soon as it has written more than
    the call's limit; its stderr is a memory file sealed at MAX_STATUS_BYTES, which gpg cannot write past
    (it then exits). Its exit is awaited on a pidfd where there is one.
    """

    def __init__(self, *, timeout: float, **kwargs) -> None:
        self._timeout = timeout
        super().__init__(**kwargs)

    def run(self, args: Sequence[str], data: bytes, *, files: Sequence[bytes] = (),
            max_output: int = MAX_OUTPUT_BYTES) -> Outcome:
        """Run gpg with *args* and *data* on its stdin. ``input_file(i)`` in *args* names the i-th of *files*.

        More than *max_output* bytes of output: gpg is killed and GpgOutputTooLarge raised. Past the time
        limit: killed, GpgTimedOut (with the CPU time gpg had used)."""
        verb, fds, paths = args[0], [], []
        try:
            stdin = _input_fd(data, paths)
            fds.append(stdin)
            extra = []
            for content in files:
                extra.append(_input_fd(content, paths))
                fds.append(extra[-1])
            if extra:  # gpg reads "-&N" as file descriptor N
                names = [f"-&{fd}" for fd in extra] if _MEMFD else paths[-len(extra):]
                args = [*(["--enable-special-filenames"] if _MEMFD else []), *_named(args, names)]
            status = _status_fd(paths)
            fds.append(status)
            command = self.make_args(["--exit-on-status-write-error", *args], False)
            read_end, write_end = os.pipe()
            fds.append(read_end)
            try:
                proc = subprocess.Popen(command, stdin=stdin, stdout=write_end, stderr=status,
                                        pass_fds=extra if _MEMFD else (), env=self.env)
            except (OSError, ValueError) as exc:
                raise GpgUnavailable(f"gpg {verb} failed to run: {exc.__class__.__name__}") from exc
            finally:
                os.close(write_end)
            try:
                deadline = time.monotonic() + self._timeout
                out = self._read_output(proc, read_end, verb, max_output, deadline)
                self._wait(proc, verb, deadline)
            finally:
                if proc.returncode is None:  # whatever stopped the reading, gpg does not outlive the call
                    _kill(proc)
            written = os.lseek(status, 0, os.SEEK_CUR)
            if written > MAX_STATUS_BYTES:
                raise GpgOutputTooLarge(verb, "status", MAX_STATUS_BYTES)
            return _outcome(proc.returncode, out, os.pread(status, written, 0), verb)
        except OSError as exc:
            raise GpgUnavailable(f"gpg {verb} failed: {exc.__class__.__name__}") from exc
        finally:
            for fd in fds:
                os.close(fd)
            for path in paths:
                os.unlink(path)

    def _read_output(self, proc: subprocess.Popen, fd: int, verb: str, limit: int, deadline: float) -> bytes:
        """gpg's stdout up to its end, at most *limit* bytes and until the deadline (else gpg is killed)."""
        chunks, size = [], 0
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not poller.poll(max(1, int(remaining * 1000))):
                raise self._timed_out(proc, verb)
            chunk = os.read(fd, _READ)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                _kill(proc)
                raise GpgOutputTooLarge(verb, "output", limit)
            chunks.append(chunk)

    def _wait(self, proc: subprocess.Popen, verb: str, deadline: float) -> None:
        """Until gpg exits (it has closed its output), at most until the deadline (then it is killed)."""
        remaining = max(deadline - time.monotonic(), 0.001)
        try:
            pidfd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):  # no pidfd (kernel < 5.3, not Linux): Popen's own bounded wait
            pidfd = None
        try:
            if pidfd is not None:
                poller = select.poll()
                poller.register(pidfd, select.POLLIN)
                if not poller.poll(max(1, int(remaining * 1000))):
                    raise self._timed_out(proc, verb)
                proc.wait()
            else:
                proc.wait(remaining)
        except subprocess.TimeoutExpired:
            raise self._timed_out(proc, verb) from None
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def _timed_out(self, proc: subprocess.Popen, verb: str) -> GpgTimedOut:
        cpu = _cpu_seconds(proc.pid)  # read before the kill: what gpg spent working, not waiting
        _kill(proc)
        return GpgTimedOut(verb, self._timeout, cpu)


def input_file(index: int) -> str:
    """In the arguments of ``Engine.run``: the name under which gpg reads its index-th input file
    (a NUL can never be part of a real argument, so the marker cannot clash with one)."""
    return f"\0{index}"


def _named(args: Sequence[str], names: Sequence[str]) -> list[str]:
    return [names[int(a[1:])] if a.startswith("\0") else a for a in args]


_MEMFD = hasattr(os, "memfd_create")


def _input_fd(content: bytes, paths: list[str]) -> int:
    """A file holding *content*, positioned at its start: a memfd, or a temporary file (its path kept)."""
    if _MEMFD:
        fd = os.memfd_create("passerelle-gpg", os.MFD_CLOEXEC)
    else:
        fd, path = tempfile.mkstemp(prefix="pg-in-")
        paths.append(path)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd


def _status_fd(paths: list[str]) -> int:
    """gpg's stderr: a memfd that cannot grow past the status limit (and its slack), or a temporary file."""
    if not _MEMFD:
        fd, path = tempfile.mkstemp(prefix="pg-st-")
        paths.append(path)
        return fd
    fd = os.memfd_create("passerelle-gpg-status", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.ftruncate(fd, MAX_STATUS_BYTES + _STATUS_SLACK)  # sparse: pages exist only where written
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL)
    except OSError:
        os.close(fd)
        raise
    return fd


def _kill(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait()


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a running process (Linux /proc), None where it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


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
