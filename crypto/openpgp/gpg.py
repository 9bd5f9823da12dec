"""The one adapter over python-gnupg: OpenPGP verbs on a GnuPG home passed in."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parseaddr
from pathlib import Path

from crypto.openpgp import native
from crypto.openpgp.colons import ListedKey, listed_keys, timestamp
from crypto.mime.crlf import text_signed
from crypto.errors import CiphertextMalformed, DecryptionFailed, GpgUnavailable, KeyImportError, KeyUnusable
from crypto.openpgp.gpg_process import MAX_OUTPUT_BYTES, Engine, Outcome, input_file, system_binary
from crypto.openpgp.packets import TAG_SIGNATURE, armored_prefix, leading_tags
from crypto.openpgp.signing_keys import KeyringCache, SigningKey, read_signing_keys

log = logging.getLogger(__name__)

# Options on every call. --no-random-seed-file: concurrent gpg processes on one home
# otherwise stall on the random_seed lock (PERFORMANCE.md). --trust-model always:
# Passerelle binds keys to partners itself, the web of trust plays no part.
BASE_OPTIONS = (
    "--no-random-seed-file",
    "--no-auto-check-trustdb",
    "--trust-model", "always",
    "--pinentry-mode", "loopback",
    "--no-greeting",
    "--no-permission-warning",
    "--display-charset", "utf-8",
)

HASH_NAMES = {1: "MD5", 2: "SHA1", 3: "RIPEMD160", 8: "SHA256", 9: "SHA384", 10: "SHA512", 11: "SHA224"}

# INV_RECP / INV_SGNR reason codes (doc/DETAILS of GnuPG).
_INVALID_KEY_REASONS = {
    "1": "not found", "2": "ambiguous", "3": "wrong key usage", "4": "revoked", "5": "expired",
    "9": "no secret key", "10": "not trusted", "13": "disabled",
}

_FPR = re.compile(r"[0-9A-Fa-f]{40}")

# A detached signature is one signature packet: a few hundred bytes armoured, a few kilobytes for the
# largest RSA keys with notations. Larger data is refused before anything reads it.
MAX_SIGNATURE_BYTES = 64 * 1024
# Session keys (public-key or passphrase) an encrypted message may carry before its data: one per
# recipient. gpg tries every one addressed to a key of the hub (or to nobody) with gpg-agent.
MAX_SESSION_KEYS = 64
_PKESK, _SKESK, _MARKER = 1, 3, 10
_SESSION_KEY_BYTES = 4096  # a session key packet for a 16,384-bit RSA key is some 2 KB


@dataclass(frozen=True)
class KeyInfo:
    """What a key says about itself (primary key with its subkeys)."""

    fingerprint: str
    uids: tuple[str, ...]
    emails: tuple[str, ...]
    created: datetime
    expires: datetime | None
    revoked: bool
    can_sign: bool
    can_encrypt: bool
    subkeys: tuple[str, ...]

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and self.expires <= now


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome of one signature verification, for the caller and the audit log."""

    status: str  # good, bad, no_public_key, expired_key, revoked_key, expired_signature, error
    primary_fingerprint: str | None
    signing_fingerprint: str | None
    signed_at: datetime | None
    hash_algorithm: str | None
    detail: str
    sig_class: int | None = None  # 0x00 binary, 0x01 text (RFC 9580 §5.2.1), when the signature was good

    @property
    def valid(self) -> bool:
        return self.status == "good"

    def identity(self, data: bytes) -> str:
        """One identity per good signature, whatever bytes carried it: the signing key, the signing time, the
        signature's type and hash, and what it signs as its type reads it (a text-mode signature reads
        line ends and trailing CRs away). Not the signature values: an ECDSA signature (r, s) verifies as
        (r, n - s) too, a new value over the same statement. The same for a signature gpg read from an
        encrypted message (its status gives no values) as for one read in process."""
        signed = text_signed(data) if self.sig_class == 0x01 else data
        created = int(self.signed_at.timestamp()) if self.signed_at else ""
        head = f"{self.signing_fingerprint}|{created}|{self.sig_class}|{self.hash_algorithm}|".encode()
        return hashlib.sha256(head + hashlib.sha256(signed).digest()).hexdigest()


@dataclass(frozen=True)
class Decrypted:
    plaintext: bytes
    signature: SignatureCheck | None


class Gpg:
    """OpenPGP verbs on one GnuPG home; safe to call from several threads.

    With ``in_process`` (the default) a signature gpg's own listing shows a valid key for is checked
    in this process (crypto/native.py), and the home's own unprotected signing key signs here too;
    whatever that code does not read, and every signature it cannot call good, goes to gpg.

    *binary* is the gpg executable, by its absolute path (default: the system's, never looked up in
    PATH). What the input can make gpg do is bounded: a detached signature is one packet of at most
    *max_signature_bytes*, an encrypted message carries at most *max_session_keys* session keys, and
    decryption stops (GpgOutputTooLarge) once the plaintext passes *max_plaintext_bytes*.
    """

    def __init__(self, home: Path, *, binary: str | None = None, timeout_seconds: float = 30.0,
                 in_process: bool = True, max_plaintext_bytes: int = MAX_OUTPUT_BYTES,
                 max_signature_bytes: int = MAX_SIGNATURE_BYTES, max_session_keys: int = MAX_SESSION_KEYS) -> None:
        self.home = Path(home)
        self.binary = binary or system_binary("gpg")
        self.max_plaintext_bytes = max_plaintext_bytes
        self.max_signature_bytes = max_signature_bytes
        self.max_session_keys = max_session_keys
        if not Path(self.binary).is_absolute():
            raise GpgUnavailable(f"the gpg binary is named by its absolute path, not {self.binary!r}")
        if not self.home.exists():
            self.home.mkdir(mode=0o700, parents=True)
        try:
            self._engine = Engine(
                timeout=timeout_seconds, gpgbinary=self.binary, gnupghome=str(self.home),
                options=list(BASE_OPTIONS),
            )
        except (OSError, ValueError) as exc:
            raise GpgUnavailable(f"gpg cannot run: {exc.__class__.__name__}") from exc
        if not (self.home / "trustdb.gpg").exists():
            # With --no-auto-check-trustdb gpg never creates it, yet it needs one to list
            # expired keys; the later --trust-model wins over the one in BASE_OPTIONS.
            self._engine.run(["--check-trustdb", "--trust-model", "pgp"], b"")
        self._keyring = KeyringCache(self.home) if in_process else None
        self._verified = {"in_process": 0, "gpg": 0}  # signatures checked, by who decided (for the metrics)
        self._verified_lock = threading.Lock()

    # -- keys -----------------------------------------------------------------

    def generate_key(self, uid: str, *, expire: str = "0") -> str:
        """Make an ed25519 signing key with a cv25519 encryption subkey, no passphrase."""
        nopass = ["--passphrase", ""]
        out = self._engine.run([*nopass, "--quick-gen-key", uid, "ed25519", "sign", expire], b"")
        created = [v.split()[1] for v in out.values("KEY_CREATED") if len(v.split()) > 1]
        if out.returncode != 0 or not created:
            raise GpgUnavailable(f"key generation failed: {_summary(out)}")
        fpr = created[0].upper()
        out = self._engine.run([*nopass, "--quick-add-key", fpr, "cv25519", "encr", expire], b"")
        if out.returncode != 0:
            raise GpgUnavailable(f"subkey generation failed: {_summary(out)}")
        return fpr

    def import_keys(self, data: bytes) -> list[str]:
        """Import keys; return the primary fingerprints now present (new, updated or unchanged)."""
        out = self._engine.run(["--import"], data)
        fprs = _unique(v.split()[1].upper() for v in out.values("IMPORT_OK") if len(v.split()) > 1)
        if not fprs:
            raise KeyImportError(f"no key could be imported ({_summary(out)})")
        return fprs

    def import_secret_key(self, data: bytes) -> str:
        out = self._engine.run(["--import"], data)
        secret = [
            v.split()[1].upper() for v in out.values("IMPORT_OK")
            if len(v.split()) > 1 and int(v.split()[0]) & 16
        ]
        if not secret:
            raise KeyImportError(f"no secret key could be imported ({_summary(out)})")
        return secret[0]

    def inspect(self, data: bytes) -> list[KeyInfo]:
        """Describe the keys in armoured or binary data without importing them."""
        out = self._engine.run(["--show-keys"], data)
        return _parse_listing(out.data)

    def key(self, fingerprint: str) -> KeyInfo | None:
        """The key with this primary or subkey fingerprint, from the keyring."""
        if not _FPR.fullmatch(fingerprint):
            raise ValueError("a key is named by its 40-hex-digit fingerprint")
        out = self._engine.run(["--list-keys", "--", fingerprint.upper()], b"")
        keys = _parse_listing(out.data) if out.returncode == 0 else []
        return keys[0] if keys else None

    def holding(self, fingerprints: list[str]) -> list[KeyInfo]:
        """The keys of the keyring that hold any of these (sub)key fingerprints, as primary or as subkey."""
        wanted = sorted({f.upper() for f in fingerprints if _FPR.fullmatch(f)})
        if not wanted:
            return []
        out = self._engine.run(["--list-keys", "--", *wanted], b"")  # rc 2 when one is not there
        return list({k.fingerprint: k for k in _parse_listing(out.data)}.values())

    def export_public(self, fingerprint: str) -> bytes:
        out = self._engine.run(["--armor", "--export", "--", fingerprint], b"")
        if not out.data.strip():
            raise KeyUnusable(fingerprint, "not in the keyring")
        return out.data

    def has_secret(self, fingerprint: str) -> bool:
        out = self._engine.run(["--list-secret-keys", "--", fingerprint], b"")
        return out.returncode == 0 and b"\nsec:" in b"\n" + out.data

    def secret_fingerprints(self) -> list[str]:
        """Primary fingerprints of the secret keys this home holds (the keys its owner can open with)."""
        out = self._engine.run(["--list-secret-keys"], b"")
        return [k.fingerprint for k in _parse_listing(out.data)] if out.returncode == 0 else []

    # -- verbs ----------------------------------------------------------------

    def verify_detached(self, data: bytes, signature: bytes) -> SignatureCheck:
        """Check a detached signature over data; a bad or unknown signature is a result, not an error.

        Data that is not one signature packet (several, or another kind, or too large to be one) is
        "malformed" before anything reads it further: gpg would check every signature of thousands."""
        problem = _signature_problem(signature, self.max_signature_bytes)
        if problem is not None:
            return SignatureCheck("malformed", None, None, None, None, problem)
        if self._keyring is not None:
            good = native.verify(self._signing_keys(), data, signature, time.time())
            if good is not None:
                self._count("in_process")
                return SignatureCheck("good", good.primary, good.signing,
                                      datetime.fromtimestamp(good.created, timezone.utc), good.hash_name,
                                      f"GOODSIG; VALIDSIG {good.signing} (in process)", good.sig_class)
        out = self._engine.run(["--verify", "--", input_file(0), "-"], data, files=[signature])
        self._count("gpg")
        check = _signature_from_status(out)
        if check is None:
            if not out.status:
                raise GpgUnavailable(f"gpg verify gave no status (rc {out.returncode})")
            return SignatureCheck("error", None, None, None, None, _summary(out))
        return check

    def decrypt(self, data: bytes) -> Decrypted:
        """Decrypt (and check the signature inside, if any). More session keys than *max_session_keys*:
        CiphertextMalformed, before gpg; a plaintext beyond *max_plaintext_bytes*: gpg is stopped there
        and GpgOutputTooLarge raised (compressed data expands without bound)."""
        problem = _ciphertext_problem(data, self.max_session_keys)
        if problem is not None:
            raise CiphertextMalformed(problem)
        out = self._engine.run(["--decrypt"], data, max_output=self.max_plaintext_bytes)
        if not (out.has("DECRYPTION_OKAY") and not out.has("DECRYPTION_FAILED")):
            raise DecryptionFailed(_decrypt_failure_reason(out), _summary(out))
        if out.has("BADMDC") or not _integrity_checked(out):
            raise DecryptionFailed("no_integrity", _summary(out))
        signature = _signature_from_status(out)
        if signature is not None:
            self._count("gpg")
        return Decrypted(out.data, signature)

    def _count(self, path: str) -> None:
        with self._verified_lock:
            self._verified[path] += 1

    def verifications(self) -> dict[str, int]:
        """Signatures checked since this adapter was made, by who decided: "in_process" or "gpg" (a gpg
        process, verifying or decrypting a signed message)."""
        with self._verified_lock:
            return dict(self._verified)

    def unwrap(self, data: bytes) -> bytes:
        """The OpenPGP message inside an encrypted one, its encryption layer removed and nothing else
        (gpg --unwrap): for a message signed and encrypted at once, the signed message, its signature intact."""
        out = self._engine.run(["--unwrap"], data)
        if not (out.has("DECRYPTION_OKAY") and not out.has("DECRYPTION_FAILED")):
            raise DecryptionFailed(_decrypt_failure_reason(out), _summary(out))
        if out.has("BADMDC") or not _integrity_checked(out):
            raise DecryptionFailed("no_integrity", _summary(out))
        return out.data

    def sign_detached(self, data: bytes, signer: str) -> tuple[bytes, str]:
        """An armoured detached signature and its RFC 3156 micalg (e.g. "pgp-sha512")."""
        signer_here = self._signer(signer)
        now = time.time()
        if signer_here is not None and (signer_here.expires is None or signer_here.expires > now):
            return signer_here.sign(data, int(now))
        out = self._engine.run(["--armor", "--detach-sign", "--local-user", signer], data)
        created = out.values("SIG_CREATED")
        if out.returncode != 0 or not created:
            raise _unusable_or_unavailable(out, signer, "INV_SGNR")
        hash_id = int(created[0].split()[2])
        return out.data, "pgp-" + HASH_NAMES.get(hash_id, str(hash_id)).lower()

    def _signing_keys(self) -> dict[str, SigningKey]:
        """The keys verified in process, read again when the keyring changed."""
        assert self._keyring is not None
        return self._keyring.get("signing keys", lambda: read_signing_keys(self._engine.run))

    def _signer(self, signer: str) -> native.Signer | None:
        """The in-process signer for this primary fingerprint, loaded again when the keyring changed."""
        if self._keyring is None or not _FPR.fullmatch(signer):
            return None
        return self._keyring.get(("signer", signer), lambda: native.Signer.load(
            self._engine.run, signer, datetime.now(timezone.utc)))

    def signing_keys_of(self, primary: str) -> list[SigningKey]:
        """The keys under *primary* that gpg lists as usable for signing now, with their public material
        (read again now, whatever ``in_process`` says)."""
        keys = read_signing_keys(self._engine.run).values()
        return sorted({k.fingerprint: k for k in keys if k.primary == primary.upper()}.values(),
                      key=lambda k: k.fingerprint)

    def secret_signer(self, primary: str) -> native.Signer | None:
        """This home's unprotected signing key under *primary*, held in process (whatever ``in_process`` says)."""
        return native.Signer.load(self._engine.run, primary, datetime.now(timezone.utc))

    def encrypt(self, data: bytes, recipients: list[str], *, sign_with: str | None = None) -> bytes:
        """Armoured ciphertext to the recipients' keys; signed inside when sign_with is given."""
        if not recipients:
            raise ValueError("encrypt needs at least one recipient")
        args = ["--armor", "--encrypt"]
        if sign_with:
            args += ["--sign", "--local-user", sign_with]
        for r in recipients:
            args += ["--recipient", r]
        out = self._engine.run(args, data)
        if out.returncode != 0 or not out.has("END_ENCRYPTION"):
            raise _unusable_or_unavailable(out, ",".join(recipients), "INV_RECP", "INV_SGNR")
        return out.data


# -- what gpg is given ----------------------------------------------------------

def _signature_problem(signature: bytes, limit: int) -> str | None:
    """Why *signature* is not one detached signature packet (RFC 3156 §5), or None. Data this reads no
    packet in at all is left to gpg, which refuses it (it is small: at most *limit* bytes)."""
    if len(signature) > limit:
        return f"the signature part is larger than {limit} bytes"
    if signature.count(b"-----BEGIN PGP ") > 1:
        return "the signature part holds more than one armoured block"
    tags, clean = leading_tags(armored_prefix(signature, limit), limit=2)
    if not tags:
        return None
    if len(tags) > 1:
        return "the signature part holds more than one OpenPGP packet"
    if not clean:
        return "the signature part holds data after its OpenPGP packet"
    if tags[0] != TAG_SIGNATURE:
        return f"the signature part holds an OpenPGP packet of type {tags[0]}, not a signature"
    return None


def _ciphertext_problem(data: bytes, limit: int) -> str | None:
    """Why gpg should not be given this encrypted message, or None: more session key packets (or obsolete
    marker packets) before the encrypted data than *limit*; each session key addressed to the hub's key,
    or to nobody, costs gpg-agent a decryption."""
    tags, _ = leading_tags(armored_prefix(data, (limit + 1) * _SESSION_KEY_BYTES), limit=limit + 1)
    leading = next((i for i, tag in enumerate(tags) if tag not in (_PKESK, _SKESK, _MARKER)), len(tags))
    if leading > limit:
        return f"the encrypted part carries more than {limit} session keys"
    return None


# -- status interpretation -----------------------------------------------------

def _summary(out: Outcome) -> str:
    """Status keywords with their first token (a key id or code): for audit, never content."""
    items = []
    for key, value in out.status:
        if key in ("PLAINTEXT", "PLAINTEXT_LENGTH", "KEY_CONSIDERED", "PROGRESS"):
            continue
        first = value.split(None, 1)[0] if value else ""
        items.append(f"{key} {first}".strip())
    return "; ".join(items) + f" (rc {out.returncode})"


def _signature_from_status(out: Outcome) -> SignatureCheck | None:
    """Read the signature blocks (NEWSIG ...) of a verify or decrypt run; None if there is none."""
    blocks: list[list[tuple[str, str]]] = []
    for key, value in out.status:
        if key == "NEWSIG":
            blocks.append([])
        elif blocks:
            blocks[-1].append((key, value))
    checks = [_check_block(b) for b in blocks]
    if not checks:
        return None
    bad = [c for c in checks if not c.valid]
    return bad[0] if bad else checks[0]


def _check_block(block: list[tuple[str, str]]) -> SignatureCheck:
    keys = {k: v for k, v in reversed(block)}
    detail = "; ".join(f"{k} {v.split(None, 1)[0] if v else ''}".strip() for k, v in block
                       if k not in ("KEY_CONSIDERED", "TRUST_UNDEFINED", "TRUST_ULTIMATE"))
    primary = signing = hash_name = sig_class = None
    signed_at = None
    if "VALIDSIG" in keys:
        f = keys["VALIDSIG"].split()
        signing = f[0].upper()
        signed_at = timestamp(f[2])
        hash_name = HASH_NAMES.get(int(f[7]), f[7]) if len(f) > 7 else None
        sig_class = int(f[8], 16) if len(f) > 8 and re.fullmatch(r"[0-9A-Fa-f]{2}", f[8]) else None
        primary = f[9].upper() if len(f) > 9 else signing
    elif "ERRSIG" in keys:
        f = keys["ERRSIG"].split()
        signed_at = timestamp(f[4]) if len(f) > 4 else None
        hash_name = HASH_NAMES.get(int(f[2]), f[2]) if len(f) > 2 and f[2].isdigit() else None
        signing = f[6].upper() if len(f) > 6 and f[6] != "-" else None
    if "BADSIG" in keys:
        status = "bad"
    elif "ERRSIG" in keys:
        code = keys["ERRSIG"].split()[5] if len(keys["ERRSIG"].split()) > 5 else ""
        status = "no_public_key" if "NO_PUBKEY" in keys or code == "9" else "error"
    elif "REVKEYSIG" in keys:
        status = "revoked_key"
    elif "EXPKEYSIG" in keys:
        status = "expired_key"
    elif "EXPSIG" in keys:
        status = "expired_signature"
    elif "GOODSIG" in keys and "VALIDSIG" in keys:
        status = "good"
    else:
        status = "error"
    return SignatureCheck(status, primary, signing, signed_at, hash_name, detail, sig_class)


def _decrypt_failure_reason(out: Outcome) -> str:
    if out.has("NO_SECKEY") and not out.has("NEED_PASSPHRASE_SYM"):
        return "no_secret_key"
    if out.has("NEED_PASSPHRASE_SYM") or out.has("SYMKEY_ENC"):
        return "passphrase_only"
    if out.has("NODATA"):
        return "no_data"
    if any(k == "ERROR" and "agent" in v for k, v in out.status):
        raise GpgUnavailable(f"gpg-agent failed: {_summary(out)}")
    return "corrupt"


def _integrity_checked(out: Outcome) -> bool:
    if out.has("GOODMDC"):
        return True
    for value in out.values("DECRYPTION_INFO"):
        f = value.split()
        if len(f) > 2 and f[2] != "0":  # AEAD
            return True
    return False


def _unusable_or_unavailable(out: Outcome, who: str, *keywords: str) -> Exception:
    for key, value in out.status:
        if key in keywords:
            f = value.split()
            code = f[0] if f else "0"
            name = f[1] if len(f) > 1 else who
            return KeyUnusable(name, _INVALID_KEY_REASONS.get(code, f"unusable (code {code})"))
    if any(k == "FAILURE" for k, _ in out.status) and not any(k == "ERROR" for k, _ in out.status):
        return KeyUnusable(who, f"refused by gpg: {_summary(out)}")
    return GpgUnavailable(f"gpg failed: {_summary(out)}")


def _unique(items) -> list[str]:
    seen: dict[str, None] = {}
    for i in items:
        seen.setdefault(i, None)
    return list(seen)


def _unescape(field: str) -> str:
    """Colon listings escape bytes as \\xHH in UTF-8 text."""
    raw = field.encode("latin-1", "replace")
    raw = re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)
    return raw.decode("utf-8", "replace")


def _parse_listing(data: bytes) -> list[KeyInfo]:
    """Parse --with-colons --fixed-list-mode output into KeyInfo, one per primary key."""
    now = datetime.now(timezone.utc)
    return [_key_info(k, now) for k in listed_keys(data)]


def _key_info(k: ListedKey, now: datetime) -> KeyInfo:
    primary = k.primary
    usable = [r for r in (primary, *k.subkeys) if primary.usable(now) and r.usable(now)]
    uids = [_unescape(f[9]) for f in k.uids if f[1] not in ("r", "e") and len(f) > 9]
    emails = []
    for uid in uids:
        addr = parseaddr(uid)[1]
        if "@" in addr:
            emails.append(addr.lower())
    return KeyInfo(
        fingerprint=primary.fingerprint,
        uids=tuple(uids),
        emails=tuple(_unique(emails)),
        created=primary.created or datetime.fromtimestamp(0, timezone.utc),
        expires=primary.expires,
        revoked=primary.validity == "r",
        can_sign=any("s" in r.capabilities for r in usable),
        can_encrypt=any("e" in r.capabilities for r in usable),
        subkeys=tuple(s.fingerprint for s in k.subkeys if s.fingerprint),
    )
