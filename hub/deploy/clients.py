"""The one source of what a contact point's client needs: the settings of mutt, neomutt, aerc and Thunderbird and
the kit's own README, as templates (hub/deploy/templates/) filled for one partner by `partner kit`, and for the
README's example by :func:`refresh_readme` (tests hold the README to it)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from importlib.resources import files
from string import Template

TEMPLATES = files("hub.deploy") / "templates"

# The kit's files made from a template (a file's name -> its template's): neomutt reads mutt's settings.
CLIENT_FILES = {"muttrc": "muttrc", "neomuttrc": "muttrc", "aerc-accounts.conf": "aerc-accounts.conf",
                "thunderbird.txt": "thunderbird.txt", "first-message.txt": "first-message.txt"}
CERT_FILE = "hub-cert.pem"


@dataclass(frozen=True)
class Values:
    """What the templates are filled with: the contact point, the hub, where the kit lives on the contact
    point's machine (its settings name the certificate there)."""

    name: str
    address: str
    key: str  # the contact point's primary fingerprint
    hub_address: str
    hub_fingerprint: str
    host: str
    port: int
    kit_dir: str
    cert_sha256: str

    def mapping(self) -> dict[str, str]:
        values = {k: str(v) for k, v in asdict(self).items()}
        values["cert_file"] = f"{self.kit_dir}/{CERT_FILE}"
        values["hub_fingerprint_groups"] = groups(self.hub_fingerprint)
        values["cert_sha256_colons"] = ":".join(self.cert_sha256[i:i + 2]
                                                for i in range(0, len(self.cert_sha256), 2)).upper()
        return values


def groups(fingerprint: str) -> str:
    """A fingerprint in groups of four, as it is read out on the telephone."""
    return " ".join(fingerprint[i:i + 4] for i in range(0, len(fingerprint), 4))


def render(template: str, values: Values, **extra: str) -> str:
    """A template filled; a placeholder it does not know is an error (KeyError), never left in the output."""
    text = (TEMPLATES / template).read_text()
    if template == "muttrc" and extra.pop("client", "mutt") == "neomutt":
        text = text.replace("Passerelle: mutt settings", "Passerelle: neomutt settings", 1)
    return Template(text).substitute(values.mapping(), **extra)


def client_file(name: str, values: Values) -> str:
    return render(CLIENT_FILES[name], values, client="neomutt" if name == "neomuttrc" else "mutt")


# The README's example: the names its text uses.
EXAMPLE = Values(name="Police contact point", address="spoc@police.example", key="YOURPRIMARYFINGERPRINT",
                 hub_address="hub@ocam.example", hub_fingerprint="HUBPRIMARYFINGERPRINT", host="hub.ocam.example",
                 port=2525, kit_dir="~/.passerelle", cert_sha256="the hub's certificate's SHA-256")

_BLOCK = re.compile(r"(<!-- kit: (?P<file>[\w.-]+) -->\n```[a-z]*\n)(?P<body>.*?)(```)", re.S)


def refresh_readme(text: str) -> str:
    """The README with every block marked ``<!-- kit: FILE -->`` filled with that kit file for the example."""
    return _BLOCK.sub(lambda m: m.group(1) + client_file(m.group("file"), EXAMPLE) + m.group(4), text)
