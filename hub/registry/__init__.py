"""The registries: support services' contact points (partners), recipients of evaluations, OCAM's members."""
