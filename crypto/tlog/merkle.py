"""Merkle tree hashing of RFC 9162 §2.1: leaf and node hashes, roots, inclusion and consistency proofs.

    leaf = SHA-256(0x00 || entry)        node = SHA-256(0x01 || left || right)

The tree over n leaves splits at the largest power of two below n (§2.1.1). Proofs are computed over
a *subtree* function, ``subtree(start, end) -> hash`` of the leaves [start, end), which the caller
backs with its stored hashes; only ranges of the two shapes the recursion asks for are ever named:
a complete subtree (a power of two, aligned), or the right edge of one.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # §2.1.1: the hash of the empty tree

Subtree = Callable[[int, int], bytes]


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class CompactRange:
    """The right edge of a tree grown leaf by leaf: the roots of its complete subtrees, largest first.

    ``append`` returns the complete subtrees the new leaf closed, as (height, index, hash), smallest first
    (height 0 is the leaf itself); the caller keeps those it stores (tiles).
    """

    def __init__(self, size: int = 0, peaks: Sequence[bytes] = ()) -> None:
        if len(peaks) != bin(size).count("1"):
            raise ValueError("a compact range holds one hash per set bit of its size")
        self.size = size
        self.peaks = list(peaks)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        closed = [(0, self.size, leaf)]
        node, index, height = leaf, self.size, 0
        while index & 1:
            node = node_hash(self.peaks.pop(), node)
            index >>= 1
            height += 1
            closed.append((height, index, node))
        self.peaks.append(node)
        self.size += 1
        return closed

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """The tree hash of the leaves so far (§2.1.1): the peaks folded from the right."""
        if not self.peaks:
            return EMPTY_ROOT
        node = self.peaks[-1]
        for peak in reversed(self.peaks[:-1]):
            node = node_hash(peak, node)
        return node


def peak_ranges(size: int) -> list[tuple[int, int]]:
    """The (height, index) of the complete subtrees whose roots a compact range of *size* holds, largest first."""
    found, start = [], 0
    for height in range(size.bit_length() - 1, -1, -1):
        if size >> height & 1:
            found.append((height, start >> height))
            start += 1 << height
    return found


def range_hash(start: int, end: int, node: Callable[[int, int], bytes]) -> bytes:
    """The tree hash of leaves [start, end), *start* aligned to the range's largest subtree, from
    ``node(height, index)``, the root of a complete subtree."""
    width = end - start
    if width <= 0:
        raise ValueError("an empty range has no hash")
    if width & (width - 1) == 0 and start % width == 0:
        return node(width.bit_length() - 1, start // width)
    k = split(width)
    return node_hash(range_hash(start, start + k, node), range_hash(start + k, end, node))


def inclusion_proof(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """PATH(index, D[size]) of §2.1.3.1: the siblings from the leaf's up to the root's children."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(old: int, new: int, subtree: Subtree) -> list[bytes]:
    """PROOF(old, D[new]) of §2.1.4.1: empty when old is 0 or equals new."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from {old} to {new}")
    if old == 0 or old == new:
        return []
    proof: list[bytes] = []
    start, end, whole = 0, new, True
    m = old
    while True:
        if m == end - start:
            if not whole:
                proof.append(subtree(start, end))
            break
        k = split(end - start)
        if m <= k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            start += k
            m -= k
            whole = False
    proof.reverse()
    return proof


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The root an inclusion proof leads to (§2.1.3.2), or None when the proof has the wrong shape."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if len(p) != HASH_SIZE or sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    return root_from_inclusion(index, size, leaf, proof) == root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """§2.1.4.2: the tree of *new* leaves with *new_root* extends the one of *old* leaves with *old_root*."""
    if not 0 <= old <= new or any(len(p) != HASH_SIZE for p in proof):
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is the first node of the path
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
