"""The log's Merkle tree over the store's tiles: node hashes, roots, proofs, and the tiles new events add."""

from __future__ import annotations

from dataclasses import dataclass

from crypto.tlog import merkle
from store.transparency import TILE_HEIGHT, TILE_WIDTH, LogRepository

from hub.errors import LogCorrupt

HASH = merkle.HASH_SIZE


class NodeCache:
    """Hashes of complete subtrees computed from tiles, and full tiles, kept across proofs: they never change,
    and every proof made from them is checked against its signed root before it leaves. Bounded: emptied when
    it holds *limit* of either."""

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.tiles: dict[tuple[int, int], bytes] = {}

    def keep(self, store: dict, key: tuple[int, int], value: bytes) -> None:
        if len(store) >= self.limit:
            store.clear()
        store[key] = value


class Tiles:
    """The tree of the first *size* leaves, read from the stored tiles (each tile read once per instance; with a
    shared *cache*, full tiles and computed nodes once per process), or from an *overlay* of tiles not yet stored."""

    def __init__(self, log: LogRepository, size: int, cache: NodeCache | None = None,
                 overlay: dict[tuple[int, int], bytes] | None = None) -> None:
        self.log = log
        self.size = size
        self.cache = cache or NodeCache()
        self._tiles: dict[tuple[int, int], bytes] = dict(overlay or {})  # a checkpoint's tiles not yet stored

    def tile(self, level: int, idx: int) -> bytes:
        key = (level, idx)
        if key not in self._tiles:
            known = self.cache.tiles.get(key)
            self._tiles[key] = known if known is not None else self.log.tiles([key]).get(key, b"")
            if known is None and len(self._tiles[key]) == TILE_WIDTH * HASH:
                self.cache.keep(self.cache.tiles, key, self._tiles[key])
        return self._tiles[key]

    def node(self, height: int, index: int) -> bytes:
        """The root of the complete subtree of *height* numbered *index* (its leaves index·2^height onwards)."""
        level, rest = divmod(height, TILE_HEIGHT)
        if rest and (height, index) in self.cache.nodes:
            return self.cache.nodes[height, index]
        first = index << rest
        t, pos = divmod(first, TILE_WIDTH)
        data = self.tile(level, t)
        hashes = [data[i * HASH:(i + 1) * HASH] for i in range(pos, pos + (1 << rest))]
        if len(data) < (pos + (1 << rest)) * HASH:
            raise LogCorrupt(f"the stored tree lacks the hashes of tile {level}/{t}", index=first << (level * TILE_HEIGHT))
        while len(hashes) > 1:
            hashes = [merkle.node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        if rest:
            self.cache.keep(self.cache.nodes, (height, index), hashes[0])
        return hashes[0]

    def subtree(self, start: int, end: int) -> bytes:
        return merkle.range_hash(start, end, self.node)

    def root(self) -> bytes:
        return self.subtree(0, self.size) if self.size else merkle.EMPTY_ROOT

    def inclusion(self, index: int) -> list[bytes]:
        return merkle.inclusion_proof(index, self.size, self.subtree)

    def consistency(self, old: int) -> list[bytes]:
        return merkle.consistency_proof(old, self.size, self.subtree)

    def right_edge(self) -> merkle.CompactRange:
        return merkle.CompactRange(self.size, [self.node(h, i) for h, i in merkle.peak_ranges(self.size)])


@dataclass(frozen=True)
class RightEdge:
    """What an issuer keeps of the tree it last signed: its compact range and the partial tile of each level,
    so that the next checkpoint reads no tile (valid only while the stored latest checkpoint is that one)."""

    edge: merkle.CompactRange
    partials: dict[tuple[int, int], bytes]


class Growth:
    """New leaves on top of the stored tree of *size* leaves: the tiles they fill, and the new root. *known*: the
    right edge this process kept of that very tree (else it is read from the tiles, and checked against *root*)."""

    def __init__(self, log: LogRepository, size: int, root: bytes, *, known: RightEdge | None = None) -> None:
        self.stored = Tiles(log, size)
        if known is not None and known.edge.size == size and known.edge.root() == root:
            self.edge = merkle.CompactRange(size, list(known.edge.peaks))
            self.stored._tiles.update(known.partials)
        else:
            self.edge = self.stored.right_edge()
            if self.edge.root() != root:
                raise LogCorrupt(f"the stored tree of {size} events no longer gives the root its checkpoint signed")
        self.tiles: dict[tuple[int, int], bytearray] = {}

    def add(self, leaves: list[bytes]) -> None:
        for leaf in leaves:
            for height, index, value in self.edge.append(leaf):
                if height % TILE_HEIGHT:
                    continue
                key = (height // TILE_HEIGHT, index // TILE_WIDTH)
                tile = self.tiles.get(key)
                if tile is None:  # a tile the stored tree has begun, or a new one
                    stored = self.stored.size >> height > key[1] * TILE_WIDTH
                    # Only the hashes of the stored tree: another issuer may have stored a larger tree's tiles
                    # since its checkpoint was read (PostgreSQL's reader sees each statement's commits). Tiles
                    # only grow, so this tree's hashes are their beginning; what follows is ours to add.
                    begun = self.stored.tile(*key)[:(index % TILE_WIDTH) * HASH] if stored else b""
                    tile = self.tiles[key] = bytearray(begun)
                if len(tile) != (index % TILE_WIDTH) * HASH:
                    raise LogCorrupt(f"tile {key[0]}/{key[1]} holds {len(tile) // HASH} hashes, not "
                                     f"{index % TILE_WIDTH}", index=index << height)
                tile += value

    @property
    def size(self) -> int:
        return self.edge.size

    def root(self) -> bytes:
        return self.edge.root()

    def written(self) -> dict[tuple[int, int], bytes]:
        return {key: bytes(tile) for key, tile in self.tiles.items()}

    def kept(self) -> RightEdge:
        """The right edge of the grown tree, with the partial tiles known here."""
        partials, level, nodes = {}, 0, self.size
        while nodes:
            key, filled = (level, nodes // TILE_WIDTH), nodes % TILE_WIDTH
            data = bytes(self.tiles[key]) if key in self.tiles else self.stored._tiles.get(key)
            if filled and data is not None and len(data) == filled * HASH:
                partials[key] = data
            level, nodes = level + 1, nodes >> TILE_HEIGHT
        return RightEdge(merkle.CompactRange(self.size, list(self.edge.peaks)), partials)
