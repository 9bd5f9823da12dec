"""OCAM's side of the channel: what arrives reaches OCAM's people (routing rules, copies, notices, reading)."""
