"""The audit log's Merkle tree in the store: its tiles, the checkpoints the hub signed, the witnesses' cosignatures."""

from .models import LogCheckpoint, LogCosignature, LogTile
from .repository import TILE_HEIGHT, TILE_WIDTH, LogRepository

__all__ = ["LogCheckpoint", "LogCosignature", "LogRepository", "LogTile", "TILE_HEIGHT", "TILE_WIDTH"]
