"""Embargo's rows: the sealed items, the holder lists' versions, OCAM's members and the joint decisions."""
