"""Tools beside the hub: the benchmarks, the demo, and a hub served from a background thread."""
