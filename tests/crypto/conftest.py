"""Fixtures for crypto tests: keys made once per session with the gpg CLI, a hub GnuPG home."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from crypto.openpgp.gpg import Gpg
from tests.conftest import kill_agents
from tests.support import keys

INTEROP = Path(__file__).resolve().parents[2].parent / "shared" / "interop" / "schleuder"


@pytest.fixture(scope="session")
def session_dir():
    path = Path(tempfile.mkdtemp(prefix="pc", dir="/tmp"))
    yield path
    keys.cleanup_all()
    kill_agents(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def gpg_dir():
    """A short directory for GnuPG homes of one test; agents stopped afterwards."""
    path = Path(tempfile.mkdtemp(prefix="pt", dir="/tmp"))
    yield path
    kill_agents(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def alice(session_dir):
    return keys.make_key(session_dir, "alice@police.test", name="Alice")


@pytest.fixture(scope="session")
def stranger(session_dir):
    return keys.make_key(session_dir, "stranger@elsewhere.test", name="Stranger")


@pytest.fixture(scope="session")
def subkey_signer(session_dir):
    return keys.make_key(session_dir, "sub@customs.test", signing_subkey=True)


@pytest.fixture(scope="session")
def hub_gpg(session_dir, alice, subkey_signer):
    """The hub's home: its own key, and the public keys of alice and subkey_signer (not stranger)."""
    gpg = Gpg(session_dir / "hub")
    gpg.import_keys(alice.public)
    gpg.import_keys(subkey_signer.public)
    return gpg


@pytest.fixture(scope="session")
def hub_fpr(hub_gpg):
    """The hub's own key pair, made by the code under test."""
    return hub_gpg.generate_key("Passerelle hub <hub@ocam.test>")


@pytest.fixture(scope="session")
def schleuder_gpg(session_dir):
    """A copy of the schleuder test home (never used in place), mode 0700."""
    home = session_dir / "schleuder"
    shutil.copytree(INTEROP / "gnupg", home)
    for p in [home, *home.rglob("*")]:
        os.chmod(p, 0o700 if p.is_dir() else 0o600)
    return Gpg(home)
