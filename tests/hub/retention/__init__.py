"""Tests of hub/retention: review dates, triggers, signed decisions, erasure, the 50-year end."""
