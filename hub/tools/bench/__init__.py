"""The benchmarks behind `passerelle bench ...` (hub/cli/bench.py), and what they share (load.py)."""
