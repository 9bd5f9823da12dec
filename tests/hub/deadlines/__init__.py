"""Tests of hub/deadlines: windows, the scheduler and its failover, the report."""
