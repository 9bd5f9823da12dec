"""Tests of hub/outbound: OCAM's requests and delivery."""
