"""The one adapter over python-gnupg: OpenPGP verbs on a GnuPG home passed in."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from crypto.openpgp import encryption, native
from crypto.openpgp.colons import KeyInfo, listed_keys, parse_listing, timestamp, unique
from crypto.mime.crlf import text_signed
from crypto.errors import CiphertextMalformed, DecryptionFailed, GpgUnavailable, KeyImportError, KeyUnusable
from crypto.openpgp.encryption import EncryptionKey
from crypto.openpgp.gpg_process import MAX_OUTPUT_BYTES, Engine, Outcome, input_file, system_binary
from crypto.openpgp.keyring import Keyring, KeyringCache, read_keyring
from crypto.openpgp.packets import TAG_SIGNATURE, armored_prefix, leading_tags
from crypto.openpgp.recipients import encryption_keys
from crypto.openpgp.signing_keys import SigningKey, signing_keys

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
class SignatureCheck:
    """The outcome of one signature verification, for the caller and the audit log."""

    status: str  # good, bad, no_public_key, expired_key, revoked_key, expired_signature, time_conflict, error
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
    key: str | None = None  # the primary fingerprint of the key that decrypted it (DECRYPTION_KEY)
    to: tuple[str, ...] = ()  # the key ids it was encrypted to (ENC_TO), as the message says


class Gpg:
    """OpenPGP verbs on one GnuPG home; safe to call from several threads.

    With ``in_process`` (the default) a signature gpg's own listing shows a valid key for is checked
    in this process (crypto/openpgp/native.py), the home's own unprotected signing key signs here too, and a
    message to keys whose encryption subkey gpg's listing makes plain is encrypted here
    (crypto/openpgp/recipients.py, encryption.py); whatever that code does not read, every signature it
    cannot call good and every key it does not encrypt to goes to gpg.

    *binary* is the gpg executable, by its absolute path (default: the system's, never looked up in
    PATH). What the input can make gpg do is bounded: a detached signature is one packet of at most
    *max_signature_bytes*, an encrypted message carries at most *max_session_keys* session keys, and
    decryption stops (GpgOutputTooLarge) once the plaintext passes *max_plaintext_bytes*."""

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
        """Make an ed25519 signing key with a cv25519 encryption subkey, no passphrase (beside any other key of
        the same user id)."""
        nopass = ["--passphrase", ""]
        # --yes: also when the home holds a key of this user id already (the hub's next key, hub-key rotate).
        out = self._engine.run([*nopass, "--yes", "--quick-gen-key", uid, "ed25519", "sign", expire], b"")
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
        fprs = unique(v.split()[1].upper() for v in out.values("IMPORT_OK") if len(v.split()) > 1)
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
        return parse_listing(out.data)

    def key(self, fingerprint: str) -> KeyInfo | None:
        """The key with this primary or subkey fingerprint, from the keyring."""
        if not _FPR.fullmatch(fingerprint):
            raise ValueError("a key is named by its 40-hex-digit fingerprint")
        out = self._engine.run(["--list-keys", "--", fingerprint.upper()], b"")
        keys = parse_listing(out.data) if out.returncode == 0 else []
        return keys[0] if keys else None

    def holding(self, fingerprints: list[str]) -> list[KeyInfo]:
        """The keys of the keyring that hold any of these (sub)key fingerprints, as primary or as subkey."""
        wanted = sorted({f.upper() for f in fingerprints if _FPR.fullmatch(f)})
        if not wanted:
            return []
        out = self._engine.run(["--list-keys", "--", *wanted], b"")  # rc 2 when one is not there
        return list({k.fingerprint: k for k in parse_listing(out.data)}.values())

    def export_public(self, fingerprint: str) -> bytes:
        out = self._engine.run(["--armor", "--export", "--", fingerprint], b"")
        if not out.data.strip():
            raise KeyUnusable(fingerprint, "not in the keyring")
        return out.data

    def has_secret(self, fingerprint: str) -> bool:
        out = self._engine.run(["--list-secret-keys", "--", fingerprint], b"")
        return out.returncode == 0 and b"\nsec:" in b"\n" + out.data

    def signs(self, fingerprint: str) -> bool:
        """Whether this home holds the secret of *fingerprint*'s primary key (not a stub without it, "sec#")."""
        out = self._engine.run(["--list-secret-keys", "--", fingerprint], b"")
        records = listed_keys(out.data) if out.returncode == 0 else []
        return any(k.primary.fingerprint == fingerprint.upper() and len(k.primary.fields) > 14
                   and k.primary.fields[14] != "#" for k in records)

    def forget_signing_secret(self, fingerprint: str) -> None:
        """Delete the secret of *fingerprint*'s primary key only (``FPR!``): it signs nothing again, its
        subkeys' secrets (decryption) stay, and so does the public key."""
        if not _FPR.fullmatch(fingerprint):
            raise ValueError("a key is named by its 40-hex-digit fingerprint")
        out = self._engine.run(["--yes", "--delete-secret-keys", "--", fingerprint.upper() + "!"], b"")
        if out.returncode != 0:
            raise GpgUnavailable(f"the secret of {fingerprint} could not be deleted: {_summary(out)}")

    def secret_fingerprints(self) -> list[str]:
        """Primary fingerprints of the secret keys this home holds (the keys its owner can open with)."""
        out = self._engine.run(["--list-secret-keys"], b"")
        return [k.fingerprint for k in parse_listing(out.data)] if out.returncode == 0 else []

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
        used = [v.split() for v in out.values("DECRYPTION_KEY")]
        key = used[0][1].upper() if used and len(used[0]) > 1 else None
        to = tuple(v.split()[0].upper() for v in out.values("ENC_TO") if v.split())
        signature = _signature_from_status(out)
        if signature is not None:
            self._count("gpg")
        return Decrypted(out.data, signature, key, to)

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
        now = time.time()
        signer_here = self._signer_now(signer, now)
        if signer_here is not None:
            return signer_here.sign(data, int(now))
        out = self._engine.run(["--armor", "--detach-sign", "--local-user", signer], data)
        created = out.values("SIG_CREATED")
        if out.returncode != 0 or not created:
            raise _unusable_or_unavailable(out, signer, "INV_SGNR")
        hash_id = int(created[0].split()[2])
        return out.data, "pgp-" + HASH_NAMES.get(hash_id, str(hash_id)).lower()

    def signing_keys_of(self, primary: str) -> list[SigningKey]:
        """The keys under *primary* that gpg lists as usable for signing now, with their public material
        (read again now, whatever ``in_process`` says)."""
        keys = {k.fingerprint: k for k in signing_keys(read_keyring(self._engine.run)).values()}
        return sorted((k for k in keys.values() if k.primary == primary.upper()), key=lambda k: k.fingerprint)

    def secret_signer(self, primary: str) -> native.Signer | None:
        """This home's unprotected signing key under *primary*, held in process (whatever ``in_process`` says)."""
        return native.Signer.load(self._engine.run, primary, datetime.now(timezone.utc))

    def encrypt(self, data: bytes, recipients: list[str], *, sign_with: str | None = None) -> bytes:
        """Armoured ciphertext to the recipients' keys; signed inside when sign_with is given. In process when
        every recipient is a primary fingerprint whose subkey gpg would choose is read here
        (crypto/openpgp/recipients.py) and the signer, if any, signs here; else gpg, which refuses a key it
        finds unusable (KeyUnusable)."""
        if not recipients:
            raise ValueError("encrypt needs at least one recipient")
        here = self._encrypt_here(data, recipients, sign_with)
        if here is not None:
            return here
        args = ["--armor", "--encrypt"]
        if sign_with:
            args += ["--sign", "--local-user", sign_with]
        for r in recipients:
            args += ["--recipient", r]
        out = self._engine.run(args, data)
        if out.returncode != 0 or not out.has("END_ENCRYPTION"):
            raise _unusable_or_unavailable(out, ",".join(recipients), "INV_RECP", "INV_SGNR")
        return out.data

    def _encrypt_here(self, data: bytes, recipients: list[str], sign_with: str | None) -> bytes | None:
        if self._keyring is None:
            return None
        now = time.time()
        signer = self._signer_now(sign_with, now) if sign_with else None
        if sign_with and signer is None:
            return None
        keys = self._encryption_keys(now)
        chosen = [keys.get(r.upper()) if _FPR.fullmatch(r) else None for r in recipients]
        if None in chosen:
            return None
        return encryption.encrypt(chosen, data, signer, int(now))

    def _keyring_now(self, now: float) -> Keyring:
        """The keyring as gpg lists and exports it, read again once it changed or a key in it started or stopped
        being valid."""
        assert self._keyring is not None
        return self._keyring.get("keyring", lambda: read_keyring(self._engine.run), lambda k: k.holds(now))

    def _signing_keys(self) -> dict[str, SigningKey]:
        """The keys verified in process."""
        return self._keyring_now(time.time()).derived("signing keys", signing_keys)

    def _encryption_keys(self, now: float) -> dict[str, EncryptionKey]:
        """The subkeys encrypted to in process, by primary fingerprint."""
        return self._keyring_now(now).derived("encryption keys", encryption_keys)

    def _signer(self, signer: str) -> native.Signer | None:
        """The in-process signer for this primary fingerprint, loaded again when the keyring changed."""
        if self._keyring is None or not _FPR.fullmatch(signer):
            return None
        return self._keyring.get(("signer", signer), lambda: native.Signer.load(
            self._engine.run, signer, datetime.now(timezone.utc)))

    def _signer_now(self, signer: str, now: float) -> native.Signer | None:
        """The in-process signer for this primary fingerprint if it has not expired by *now*."""
        here = self._signer(signer)
        return here if here is not None and (here.expires is None or here.expires > now) else None


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
        code = keys["ERRSIG"].split()[5] if len(keys["ERRSIG"].split()) > 5 else ""  # 9 no key, 39 time conflict
        status = "no_public_key" if "NO_PUBKEY" in keys or code == "9" else "time_conflict" if code == "39" else "error"
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
