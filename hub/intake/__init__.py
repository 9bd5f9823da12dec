"""Intake: the verdict at SMTP time (admission), then the pipeline after the 250 — fields, links, responses, receipts, bounces."""
