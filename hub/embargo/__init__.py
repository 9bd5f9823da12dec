"""Embargo (law Art. 11-12, AR Art. 15): sealing to holders, holder lists, joint decisions, the oversight export."""
