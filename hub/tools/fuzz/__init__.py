"""The fuzz harness of issue 13: mutated messages to a real hub, every claim checked (`passerelle bench fuzz`, tests/fuzz)."""
