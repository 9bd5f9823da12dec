"""Helpers for tests: keys and messages made with the gpg command line, not with crypto/."""
