"""Tests of hub/registry through the CLI: init, partners and their keys."""
