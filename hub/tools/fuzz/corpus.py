"""The fuzz harness's corpus: partners with keys made by the gpg command line and the shapes of message they
send (client_mail: keyword lines, protected headers, attachments, nested multiparts, quoted-printable, text-mode
signatures, signed and encrypted, KMail's sign-then-encrypt; and one crafted: a protected From naming another
partner), and real clients' messages (the interop samples of
../shared/interop/schleuder, with the keys they were made for)."""

from __future__ import annotations

import random
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from crypto.openpgp.gpg_process import stop_agent
from store.vocabulary import URGENCIES

from ..client import gpg_cli
from ..client import mail as client_mail

DEFAULT_SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "interop" / "schleuder"
# The samples' own addresses the hub accepts RCPT for (hub.addresses): KMail's list and Schleuder's.
SAMPLE_ADDRESSES = ("list@a", "schleuder@example.org")
SCHLEUDER_FPR = "59C71FB38AEE22E091C78259D06350440F759BD3"
KMAIL_SENDER = "admin@a"

# (file, envelope sender, RCPT): the signed and encrypted mail of real clients, and two MTAs' bounces.
SAMPLES = (
    ("encapsulated.eml", KMAIL_SENDER, "list@a"),  # KMail: signed, then encrypted; its sender is a partner here
    ("encrypted+signed-mime/thunderbird.eml", "paz@nadir.org", "schleuder@example.org"),
    ("protected-headers-request.eml", "paz@nadir.org", "schleuder@example.org"),
    ("qp-encoding-encrypted+signed.eml", "test@localhost", "schleuder@example.org"),
    ("attach-list-key-thunderbird.eml", "user@example.net", "schleuder@example.org"),
    ("signed-mime/thunderbird.eml", "paz@nadir.org", "schleuder@example.org"),
    ("multipart-alternative/thunderbird-multi-alt-signed.eml", "paz@nadir.org", "schleuder@example.org"),
    ("protected-headers.eml", "paz@nadir.org", "schleuder@example.org"),
    ("mutt_protected_headers.txt", "schleuder@example.org", "schleuder@example.org"),
    ("mutt-2.0.5-linux-xaddkey-attachment-binary.eml", "user@example.org", "schleuder@example.org"),
    ("exchange.eml", "someone@example.org", "schleuder@example.org"),
    ("charset_mails/signed_utf8.eml", "example@example.org", "schleuder@example.org"),
    ("bounce.eml", "", "schleuder@example.org"),
    ("bounces/tt_bounce_01.txt.eml", "", "schleuder@example.org"),
)
SHAPES = ("signed", "keyword-lines", "protected-headers", "attachments", "quoted-printable", "text-mode", "nested",
          "encrypted", "encrypted-protected", "encapsulated", "protected-from-other")


@dataclass(frozen=True)
class Seed:
    raw: bytes
    mail_from: str
    rcpt: str
    source: str  # the shape, or the sample's file
    fresh: bool  # a new signature, never sent: it may be accepted


@dataclass(frozen=True)
class Partner:
    name: str
    kind: str
    email: str
    fingerprint: str
    public: bytes
    key: gpg_cli.Key | None  # None: a sample's sender, whose secret key the harness does not hold


def _crlf(raw: bytes) -> bytes:
    raw = raw.split(b"\n", 1)[1] if raw.startswith(b"From ") else raw  # an mbox separator line
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _sample(samples: Path, name: str) -> bytes:
    raw = _crlf((samples / "mails" / name).read_bytes())
    if name == "exchange.eml" and raw.endswith(b"\r\n--_003_MIME_\r\n"):  # its copy lost the close's "--"
        raw = raw[:-2] + b"--\r\n"
    return raw


class Corpus:
    """Made in *root*: the partners' homes and keys; *hub_address* and *hub_public* the hub's."""

    def __init__(self, root: Path, hub_address: str, hub_public: bytes, samples: Path | None = DEFAULT_SAMPLES):
        self.hub_address, self.hub_public = hub_address, hub_public
        self.partners: list[Partner] = []
        for name, kind, email, algo, subkey in (("police-fed", "police", "spoc@police.test", "ed25519", False),
                                                 ("customs", "customs", "desk@customs.test", "ed25519", True),
                                                 ("minister", "government", "cabinet@gov.test", "rsa3072", False)):
            home = root / name
            home.mkdir(mode=0o700)
            key = gpg_cli.make_key(home, email, name=name.title(), algo=algo, signing_subkey=subkey)
            self.partners.append(Partner(name, kind, email, key.fingerprint, key.public, key))
        self.samples: list[Seed] = []
        self.hub_secrets: list[bytes] = []  # the samples' own decryption keys, for the hub's home
        if samples is not None and (samples / "mails").is_dir():
            self._load_samples(root, samples)

    def _load_samples(self, root: Path, samples: Path) -> None:
        keys = samples / "openpgp-keys"
        sender = (keys / "encapsulated-sender.pub").read_bytes()
        self.partners.append(Partner("kmail-sender", "intelligence", KMAIL_SENDER,
                                     _fingerprint(root / "probe", sender), sender, None))
        self.hub_secrets.append((keys / "encapsulated-list.sec").read_bytes())
        home = root / "schleuder"
        shutil.copytree(samples / "gnupg", home)
        for path in [home, *home.rglob("*")]:
            path.chmod(0o700 if path.is_dir() else 0o600)
        self.hub_secrets.append(gpg_cli.gpg(home, "--armor", "--export-secret-keys", SCHLEUDER_FPR))
        stop_agent(home)
        for name, mail_from, rcpt in SAMPLES:
            self.samples.append(Seed(_sample(samples, name), mail_from, rcpt, name, fresh=False))

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(p.email for p in self.partners)

    def fresh(self, rng: random.Random, case: int, shape: str | None = None) -> Seed:
        """A new message of a shape drawn by *rng*, signed now by one of the partners the harness holds keys of."""
        shape = shape or rng.choice(SHAPES)
        partner = rng.choice([p for p in self.partners if p.key is not None])
        key = partner.key
        assert key is not None
        body = f"Case {case} {rng.getrandbits(64):016x}: the weekly situation report.\n" * rng.choice((1, 3, 40))
        words = dict(to=self.hub_address, subject=f"fuzz {case}", body=body)
        keywords = {"Urgency": rng.choice(URGENCIES)}
        if partner.kind == "government":
            keywords |= {"Message-Kind": "request",
                         "Reply-By": (datetime.now(timezone.utc) + timedelta(days=12)).strftime("%Y-%m-%dT%H:%M%z")}
        protected = {"Subject": f"fuzz {case} (protected)", "From": key.email, "To": self.hub_address}
        if shape == "signed":
            raw = client_mail.signed_mail(key, **words)
        elif shape == "keyword-lines":
            raw = client_mail.signed_mail(key, keyword_lines=keywords | {"Classification": "RESTRICTED"}, **words)
        elif shape == "protected-headers":
            raw = client_mail.signed_mail(key, protected=protected, keyword_lines=keywords, **words)
        elif shape == "attachments":
            files = [(f"annex-{i}.bin", rng.randbytes(rng.choice((300, 4000, 30000)))) for i in range(rng.choice((1, 2)))]
            raw = client_mail.signed_mail(key, attachments=files, protected=protected, **words)
        elif shape == "quoted-printable":
            raw = client_mail.signed_mail(key, qp=True, digest="SHA512", keyword_lines=keywords,
                                          **words | {"body": "Été, déjà vu — naïve façade.\n" + body})
        elif shape == "text-mode":
            raw = client_mail.signed_mail(key, sign_options=("--textmode",), digest="SHA512", **words)
        elif shape == "nested":
            raw = client_mail.signed_entity_mail(key, _nested(body, rng), to=self.hub_address, subject=f"fuzz {case}")
        elif shape == "protected-from-other":  # signed by one partner, its protected From naming another
            other = rng.choice([p for p in self.partners if p is not partner])
            raw = client_mail.signed_mail(key, protected=protected | {"From": other.email}, **words)
        elif shape == "encapsulated":
            raw = client_mail.encrypted_mail(key, self.hub_public, mode="encapsulated", **words)
        else:
            raw = client_mail.encrypted_mail(key, self.hub_public, keyword_lines=keywords,
                                             protected=protected if shape == "encrypted-protected" else None, **words)
        return Seed(raw, key.email, self.hub_address, shape, fresh=True)

    def sample(self, rng: random.Random) -> Seed | None:
        return rng.choice(self.samples) if self.samples else None


def _nested(body: str, rng: random.Random) -> bytes:
    """multipart/mixed holding multipart/alternative (text, HTML) and an attachment, as Thunderbird sends."""
    html = "<html><body>\n" + "".join(f"<p>{line}</p>\n" for line in body.splitlines()) + "</body></html>"
    hexed = rng.randbytes(600).hex()
    data = "\r\n".join(hexed[i:i + 76] for i in range(0, len(hexed), 76))
    return (b'Content-Type: multipart/mixed; boundary="mix-a1"\r\n\r\n--mix-a1\r\n'
            b'Content-Type: multipart/alternative; boundary="alt-b2"\r\n\r\n--alt-b2\r\n'
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + body.replace("\n", "\r\n").encode()
            + b"\r\n--alt-b2\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n" + html.replace("\n", "\r\n").encode()
            + b"\r\n--alt-b2--\r\n\r\n--mix-a1\r\nContent-Type: text/csv; name=\"data.csv\"\r\n"
              b'Content-Disposition: attachment; filename="data.csv"\r\n\r\n' + data.encode()
            + b"\r\n--mix-a1--\r\n")


def _fingerprint(home: Path, public: bytes) -> str:
    """The primary fingerprint of an armoured key (read by gpg --show-keys, in a throwaway home)."""
    home.mkdir(mode=0o700, exist_ok=True)
    with tempfile.NamedTemporaryFile(suffix=".asc") as f:
        f.write(public)
        f.flush()
        out = gpg_cli.gpg(home, "--with-colons", "--show-keys", f.name).decode()
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))
