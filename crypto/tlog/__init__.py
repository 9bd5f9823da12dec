"""A transparency log's cryptography: RFC 9162 Merkle hashing and proofs, C2SP signed notes, checkpoints,
cosignatures and proof texts."""

from crypto.tlog.formats import Checkpoint, EntryProof, WitnessRequest
from crypto.tlog.merkle import (
    EMPTY_ROOT, CompactRange, consistency_proof, inclusion_proof, leaf_hash, node_hash, range_hash,
    verify_consistency, verify_inclusion,
)
from crypto.tlog.notes import CosignatureVerifier, Cosigner, Note, Signature, Signer, Verifier, valid_name

__all__ = [
    "Checkpoint", "CompactRange", "CosignatureVerifier", "Cosigner", "EMPTY_ROOT", "EntryProof", "Note", "Signature",
    "Signer", "Verifier", "WitnessRequest", "consistency_proof", "inclusion_proof", "leaf_hash", "node_hash",
    "range_hash", "valid_name", "verify_consistency", "verify_inclusion",
]
