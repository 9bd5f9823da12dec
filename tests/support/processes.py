"""The running processes a test started, found by what their command lines name (a home, a GnuPG home)."""

from __future__ import annotations

from pathlib import Path


def naming(folder: Path) -> dict[int, str]:
    """pid → command line of the running processes whose command line names *folder* (a served hub's --home,
    a gpg-agent's --homedir)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(folder) in command:
            found[int(entry.name)] = command
    return found
