"""Tests of crypto/openpgp: gpg's verdicts, the in-process path against them, bounded gpg."""
