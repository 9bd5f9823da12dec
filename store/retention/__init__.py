"""Retention rows (law Art. 10/2, AR Art. 5): each item's review and end dates, the signed acts about it, and the
repository that reads them, shreds what an item holds and destroys the keys of periods left empty."""

from .models import RetentionAct, RetentionItem
from .repository import RetentionRepository, Shredded

__all__ = ["RetentionAct", "RetentionItem", "RetentionRepository", "Shredded"]
