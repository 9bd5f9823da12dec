"""The store: typed models, repositories, unit of work and migrations (SQLite or PostgreSQL)."""

from .base import Base
from .database import Database, make_engine, sqlite_url
from .embargo_models import EmbargoDecision, EmbargoItem, HolderListVersion, Member
from .errors import Conflict, NotFound, SchemaOutOfDate, StoreError, StoreUnavailable
from .group import GroupCommit
from .leader import LeaderLock
from .migrate import current_revision, downgrade, ensure_head, head_revision, upgrade
from .models import (
    AuditEvent, Counter, Deadline, Distribution, Heartbeat, Message, OutboundMail, Partner, QueueItem, Recipient,
    RetentionPeriod, SealedBlob,
)
from .repositories import is_alert
from .retention import RetentionAct, RetentionItem
from .transparency import LogCheckpoint, LogCosignature, LogTile
from .uow import UnitOfWork

__all__ = [
    "AuditEvent",
    "Base",
    "Conflict",
    "Counter",
    "Database",
    "Deadline",
    "Distribution",
    "EmbargoDecision",
    "EmbargoItem",
    "GroupCommit",
    "HolderListVersion",
    "Member",
    "Heartbeat",
    "LeaderLock",
    "LogCheckpoint",
    "LogCosignature",
    "LogTile",
    "Message",
    "NotFound",
    "OutboundMail",
    "Partner",
    "QueueItem",
    "Recipient",
    "RetentionAct",
    "RetentionItem",
    "RetentionPeriod",
    "SchemaOutOfDate",
    "SealedBlob",
    "StoreError",
    "StoreUnavailable",
    "UnitOfWork",
    "current_revision",
    "downgrade",
    "ensure_head",
    "head_revision",
    "is_alert",
    "make_engine",
    "sqlite_url",
    "upgrade",
]
