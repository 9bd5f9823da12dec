"""Tests of hub/embargo: sealing, holders, joint decisions, opening."""
