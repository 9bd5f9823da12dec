"""The fuzz harness's independent checks: what a 250 and a receipt claim, read again without crypto/ — the
message split by RFC 2046 on its bytes (headers read by Python's email), the signature checked by the gpg
command line in homes that hold only the key that should have made it."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from pathlib import Path

from crypto.openpgp.gpg_process import stop_agent

from ..client import gpg_cli

_BLANK = re.compile(rb"\r?\n\r?\n")


class Unreadable(Exception):
    """The independent reading finds no PGP/MIME message where the hub said 250."""


@dataclass(frozen=True)
class Verdict:
    """What the independent check of one accepted message found: *problem* is None when all holds."""

    problem: str | None
    signer: str | None = None  # primary fingerprint of the key that made the signature
    identity: str | None = None  # the signature's identity as gpg reads it (signer, SIG_ID)


def _head_body(raw: bytes) -> tuple[Message, bytes]:
    m = _BLANK.search(raw)
    head, body = (raw[:m.end()], raw[m.end():]) if m else (raw, b"")
    return BytesHeaderParser(policy=compat32).parsebytes(head), body


def split(body: bytes, boundary: str) -> list[bytes]:
    """The parts of a multipart body (RFC 2046 §5.1.1): a delimiter is "--boundary" at a line start with
    optional white space after it, and the line end before it belongs to it; parts end at the close."""
    dash = re.escape(b"--" + boundary.encode("ascii", "replace"))
    parts: list[bytes] = []
    start = None
    for m in re.finditer(rb"(?:^|\r?\n)" + dash + rb"(--)?[ \t]*(?:\r?\n|$)", body):
        if start is not None:
            parts.append(body[start:m.start()])
        if m.group(1):
            return parts
        start = m.end()
    raise Unreadable("no closing delimiter")


def _decoded(part: bytes) -> bytes:
    payload = message_from_bytes(part, policy=compat32).get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _canonical(data: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", data)


def pgp_parts(raw: bytes) -> tuple[str, bytes, bytes]:
    """("signed", signed data, signature) or ("encrypted", ciphertext, b"") as an independent reader finds them:
    at the top, through wrappers holding only it, or in Exchange's re-wrapping of multipart/encrypted."""
    head, body = _head_body(raw)
    ctype = head.get_content_type()
    if not ctype.startswith("multipart/"):
        raise Unreadable(f"the top is {ctype}")
    boundary = head.get_param("boundary")
    if not isinstance(boundary, str):
        raise Unreadable("a multipart without one boundary")
    parts = split(body, boundary)
    if ctype == "multipart/signed":
        if len(parts) != 2:
            raise Unreadable(f"multipart/signed with {len(parts)} parts")
        return "signed", _canonical(parts[0]), _decoded(parts[1])
    kinds = [_head_body(p)[0].get_content_type() for p in parts]
    if ctype == "multipart/encrypted" or kinds[-2:] == ["application/pgp-encrypted", "application/octet-stream"]:
        if len(parts) != 2 and not (len(parts) == 3 and kinds[0] == "text/plain" and not _decoded(parts[0]).strip()):
            raise Unreadable(f"{ctype} with {len(parts)} parts")
        return "encrypted", _decoded(parts[-1]), b""
    if len(parts) == 1:
        return pgp_parts(parts[0])
    raise Unreadable(f"{ctype} with {len(parts)} parts")


def sender(raw: bytes) -> str | None:
    """The one address of a message's one From field, as Python's email reads it (lowercase), else None."""
    return single_address(_head_body(raw)[0].get_all("From", []))


def single_address(values: list[str]) -> str | None:
    found = [a for _n, a in getaddresses(values) if a]
    return found[0].strip().lower() if len(values) == 1 and len(found) == 1 else None


class Checker:
    """Independent homes: one per partner holding only its public key, one holding only the hub's public key
    (receipts), one holding the hub's secret keys (a session key, nothing verified there)."""

    def __init__(self, root: Path, partners: dict[str, tuple[str, bytes]], hub: tuple[str, bytes],
                 hub_secret: bytes, receivers: dict[str, Path] | None = None) -> None:
        """*partners*: address -> (primary fingerprint, public key); *hub*: (fingerprint, public key);
        *receivers*: address -> the partner's own home (its secret key), for the partners whose receipts travel
        encrypted to them (AR Art. 11 §7); the others' travel signed only."""
        self.root = root
        self.partners = {address.lower(): fpr for address, (fpr, _key) in partners.items()}
        self.receivers = {address.lower(): home for address, home in (receivers or {}).items()}
        self.hub_fingerprint = hub[0]
        self.homes = {address.lower(): self._home(f"p{i}", key) for i, (address, (_f, key)) in enumerate(partners.items())}
        self.hub_home = self._home("h", hub[1])
        self.secret_home = self._home("s", hub_secret)

    def _home(self, name: str, key: bytes) -> Path:
        home = self.root / name
        home.mkdir(mode=0o700)
        gpg_cli.gpg(home, "--import", data=key)
        return home

    def close(self) -> None:
        for home in [*self.homes.values(), self.hub_home, self.secret_home]:
            stop_agent(home)

    def _verify(self, home: Path, data: bytes, signature: bytes) -> tuple[str | None, str | None, str]:
        """(primary fingerprint, identity, gpg's words) of a good signature in *home*, else (None, None, words)."""
        work = Path(tempfile.mkdtemp(dir=self.root))
        try:
            (work / "d").write_bytes(data)
            (work / "s").write_bytes(signature)
            out = gpg_cli.run(home, "--status-fd", "1", "--verify", str(work / "s"), str(work / "d"))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return _good(out.returncode, gpg_cli.status(out.stdout), out.stderr)

    def accepted(self, raw: bytes) -> Verdict:
        """A message the hub answered 250: its signed part verifies in the home of the partner its From names,
        by that partner's key, and a protected From (if any) names the same partner."""
        try:
            head, _body = _head_body(raw)
            sender = single_address(head.get_all("From", []))
            if sender is None or sender not in self.homes:
                return Verdict(f"From {head.get_all('From')!r} is not one registered partner's address")
            kind, data, signature = pgp_parts(raw)
            home = self.homes[sender]
            if kind == "encrypted":
                data, signer, identity, words = self._decrypt(home, data)
                if signer is None and words == "encapsulated":
                    kind, data, signature = pgp_parts(data)
                    if kind != "signed":
                        return Verdict("the decrypted entity is not signed")
                elif signer is None:
                    return Verdict(f"gpg --decrypt: {words}")
            if kind == "signed":
                signer, identity, words = self._verify(home, data, signature)
                if signer is None:
                    return Verdict(f"gpg --verify: {words}")
        except Unreadable as exc:
            return Verdict(f"no PGP/MIME message found independently: {exc}")
        if signer != self.partners[sender]:
            return Verdict(f"signed by {signer}, not by the key of {sender}", signer, identity)
        inner = _head_body(data)[0].get_all("From")
        protected = single_address(inner) if inner else sender
        if protected != sender:
            return Verdict(f"the protected From {protected!r} is not {sender}", signer, identity)
        return Verdict(None, signer, identity)

    def _decrypt(self, home: Path, ciphertext: bytes) -> tuple[bytes, str | None, str | None, str]:
        """The session key from the hub's secret keys; then decryption in the partner's home, which checks an
        inner signature there. (plaintext, signer, identity, words); words "encapsulated" when unsigned inside."""
        first = gpg_cli.run(self.secret_home, "--status-fd", "2", "--show-session-key", "--decrypt", data=ciphertext)
        keys = [v for k, v in gpg_cli.status(first.stderr) if k == "SESSION_KEY"]
        if not keys:
            return b"", None, None, "the hub's keys open no session key"
        out = gpg_cli.run(home, "--status-fd", "2", "--override-session-key", keys[0], "--decrypt", data=ciphertext)
        status = gpg_cli.status(out.stderr)
        if not any(k == "DECRYPTION_OKAY" for k, _v in status):
            return b"", None, None, "not decrypted with the session key"
        if not any(k in ("NEWSIG", "GOODSIG", "BADSIG", "ERRSIG", "VALIDSIG") for k, _v in status):
            return out.stdout, None, None, "encapsulated"
        signer, identity, words = _good(out.returncode, status, out.stderr)
        return out.stdout, signer, identity, words

    def receipt(self, raw: bytes, to: list[str]) -> tuple[str | None, str | None]:
        """(the reference a receipt's signed part names, problem): signed by the hub, checked in a home holding
        only the hub's public key; to a receiver (*to*, the RCPT addresses), encrypted to it and opened in its own
        home, never in clear."""
        receiver = next((self.receivers[a.lower()] for a in to if a.lower() in self.receivers), None)
        try:
            kind, data, signature = pgp_parts(raw)
            if receiver is not None:
                if kind != "encrypted":
                    return None, "a receipt in clear to a partner whose receipts travel encrypted"
                out = gpg_cli.run(receiver, "--status-fd", "2", "--decrypt", data=data)
                if out.returncode != 0:
                    return None, f"receipt not decrypted by its partner: rc {out.returncode}"
                kind, data, signature = pgp_parts(out.stdout)
        except Unreadable as exc:
            return None, f"receipt not readable: {exc}"
        if kind != "signed":
            return None, "receipt is not multipart/signed" + (" inside its encryption" if receiver else "")
        signer, _identity, words = self._verify(self.hub_home, data, signature)
        found = re.search(rb"X-Passerelle-Reference: (PSR-\d{4}-\d{6})", data)
        if signer != self.hub_fingerprint:
            return (found.group(1).decode() if found else None), f"receipt signature: {words}"
        if found is None:
            return None, "receipt names no reference in its signed part"
        return found.group(1).decode(), None


def _good(returncode: int, status: list[tuple[str, str]], stderr: bytes) -> tuple[str | None, str | None, str]:
    """(primary, identity, words) of exactly one good signature and gpg's exit code 0; else (None, None, words)."""
    keys = {k for k, _v in status}
    said = [line for line in stderr.decode("utf-8", "replace").splitlines()
            if line.startswith("gpg: ") and not line.startswith("[GNUPG:]")
            and not re.match(r"gpg: +(Signature made|using|Good signature|checking the trustdb|marginals|depth)", line)]
    words = " ".join([f"rc {returncode}", *sorted(keys & {"GOODSIG", "BADSIG", "ERRSIG", "EXPSIG", "EXPKEYSIG",
                                                          "REVKEYSIG", "NO_PUBKEY", "VALIDSIG", "NODATA", "BADARMOR"}),
                      f"({len([k for k, _v in status if k == 'VALIDSIG'])} good)", *said[:2]])
    valid = [v.split() for k, v in status if k == "VALIDSIG"]
    sig_ids = [v.split()[0] for k, v in status if k == "SIG_ID"]
    if returncode != 0 or len(valid) != 1 or "GOODSIG" not in keys or keys & {"BADSIG", "ERRSIG", "EXPSIG",
                                                                               "EXPKEYSIG", "REVKEYSIG"}:
        return None, None, words
    primary = valid[0][9] if len(valid[0]) > 9 else valid[0][0]
    return primary, f"{primary}/{sig_ids[0] if sig_ids else valid[0][2]}", words
