"""Outbound: OCAM's requests to the support services, the outbox and delivery to the relay with back-off."""
