"""OCAM's people in the tests: the director, a deputy, an expert, an analyst and a staff member, each with a key made
once per session by tests/support/keys.py in their own GnuPG home (what --signer-home names), and the helpers that
register the director at init and sign a command line with one of them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hub import home as home_mod
from tests.support.keys import TestKey, make_key

ROLES = ("director", "deputy", "expert", "analyst", "staff")
_made: dict[str, "Person"] = {}


@dataclass(frozen=True)
class Person:
    """A member of OCAM as the tests know them: the name and role they are registered with, and their key."""

    name: str
    role: str
    key: TestKey

    @property
    def home(self) -> Path:
        return self.key.home

    @property
    def email(self) -> str:
        return self.key.email

    def signs(self, *args: str) -> list[str]:
        """A command line (*args*) this member acts by: the same, with --signer-home naming their own GnuPG home."""
        return [*args, "--signer-home", str(self.key.home)]


def person(role: str) -> Person:
    """The session's member of *role* (named after it, address ROLE@ocam.test), made on first use."""
    if role not in _made:
        if role not in ROLES:
            raise ValueError(f"no test member of role {role!r}")
        _made[role] = Person(role, role, make_key(Path("/tmp"), f"{role}@ocam.test", name=role.title()))
    return _made[role]


def director() -> Person:
    return person("director")


def as_director(*args: str) -> list[str]:
    """*args* signed by the director (--signer-home of the director's home)."""
    return director().signs(*args)


def the_director() -> home_mod.Director:
    """What `passerelle init --director` registers, for home_mod.init (the domain call the test rigs make)."""
    boss = director()
    return home_mod.Director(boss.name, boss.email, boss.key.public)


def init_options(root: Path) -> list[str]:
    """`passerelle init`'s --director options for the session's director (the public key written under *root*)."""
    boss = director()
    key_file = root / "director-public.asc"
    key_file.write_bytes(boss.key.public)
    return ["--director", boss.name, "--director-email", boss.email, "--director-key", str(key_file)]


# The commands by which a member acts (README, "Roles and acts"): each takes --signer-home.
ACTS = {("partner", "add"), ("partner", "update-key"), ("partner", "set"), ("partner", "kit"), ("tls", "install"),
        ("hub-key", "rotate"), ("member", "add"), ("recipient", "add"), ("send", "request"),
        ("send", "evaluation"), ("holders", "add"), ("holders", "remove"), ("embargo", "decide"), ("embargo", "open"),
        ("embargo", "reseal"), ("export", "oversight"), ("messages", "open"), ("retention", "trigger"),
        ("retention", "review"), ("duty", "ack"), ("duty", "requeue"), ("duty", "retry"), ("audit", "list")}


def signed(args, by: Person | None = None) -> list[str]:
    """A command line as a member runs it: one of OCAM's acts naming no --signer-home is signed by *by* (the
    director unless told), every other command is left as it is."""
    args = [str(a) for a in args]
    if tuple(args[:2]) in ACTS and "--signer-home" not in args:
        return (by or director()).signs(*args)
    return args
