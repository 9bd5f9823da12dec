"""`passerelle report`: oversight figures (placeholder group; `report deadlines` lands with issue 3)."""

from __future__ import annotations

import click


@click.group()
def report() -> None:
    """Reports for the director and the oversight bodies."""
