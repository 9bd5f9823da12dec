"""Public keys given as files (HUB.asc, members' keys), in a temporary GnuPG home of their own: what a partner,
a witness or a committee checks the hub's word with, without any hub home."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from crypto import Gpg, KeyImportError, SignatureCheck
from crypto.openpgp.gpg_process import stop_agent
from crypto.tlog import CosignatureVerifier, Verifier, keys

from hub.errors import LogError


class Keyring:
    """``with Keyring() as ring: fpr = ring.add(HUB.asc)``: gpg judges the keys (bindings, expiry, revocation)."""

    def __init__(self, *, binary: str | None = None) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="pk"))  # short: gpg-agent's socket path has a limit
        self.gpg = Gpg(self.home, binary=binary)

    def add(self, data: bytes) -> str:
        """Import one public key; its primary fingerprint. LogError unless the data holds exactly one key."""
        if b"PRIVATE KEY" in data:
            raise LogError("give the public key, not a secret one")
        try:
            found = self.gpg.inspect(data)
            if len(found) != 1:
                raise LogError(f"the key file holds {len(found)} keys, not one")
            self.gpg.import_keys(data)
        except KeyImportError as exc:
            raise LogError(f"no key could be read: {exc}") from exc
        return found[0].fingerprint

    def emails(self, fingerprint: str) -> list[str]:
        info = self.gpg.key(fingerprint)
        return list(info.emails) if info is not None else []

    def note_verifiers(self, fingerprint: str, name: str) -> list[Verifier]:
        return keys.note_verifiers(self.gpg, fingerprint, name)

    def cosignature_verifiers(self, fingerprint: str, name: str) -> list[CosignatureVerifier]:
        return keys.cosignature_verifiers(self.gpg, fingerprint, name)

    def verify(self, data: bytes, signature: bytes, fingerprint: str) -> str:
        """"" when *signature* over *data* is a good one by *fingerprint*'s key, else why not."""
        check: SignatureCheck = self.gpg.verify_detached(data, signature)
        if not check.valid:
            return f"signature {check.status}"
        if check.primary_fingerprint != fingerprint:
            return f"signed by {check.primary_fingerprint}, not by {fingerprint}"
        return ""

    def close(self) -> None:
        stop_agent(self.home)
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> "Keyring":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
