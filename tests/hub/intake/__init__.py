"""Tests of hub/intake: end to end over SMTP, refusals, delivery status notifications."""
