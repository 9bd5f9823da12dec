"""Deadlines: the legal windows, the one place a clock starts and a due time is computed, reminders, the scheduler, the report."""
