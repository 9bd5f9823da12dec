"""A fresh hub home for the benchmarks and the demo, made as `passerelle init --director` makes one: its director's
own GnuPG home beside it signs every registration after that."""

from __future__ import annotations

from pathlib import Path

from crypto import Gpg

from hub import home as home_mod
from hub.acts.signed import MemberHome
from hub.settings import Settings

DIRECTOR = "director"
EMAIL = "director@ocam.test"


def init_with_director(root: Path, **options) -> home_mod.Identity:
    """``home_mod.init(root / "hub", "ocam.test", **options)`` with a director whose key is made in root/director."""
    gpg = Gpg(root / DIRECTOR)
    key = gpg.export_public(gpg.generate_key(f"Director <{EMAIL}>"))
    return home_mod.init(root / "hub", "ocam.test", director=home_mod.Director(DIRECTOR, EMAIL, key), **options)


def director_home(root: Path, settings: Settings, hub_gpg: Gpg) -> MemberHome:
    """The director's own GnuPG home (root/director), through which the director's acts are signed."""
    return MemberHome.of(root / DIRECTOR, settings, hub_gpg)
