"""Tests of hub/acts: the duty officer's acts through the CLI (the dashboard's are in tests/tui)."""
