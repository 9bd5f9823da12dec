"""Evaluations (law Art. 10): the distribution policy (policy.toml) and sending one encrypted copy per recipient."""
