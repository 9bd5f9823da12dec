"""RFC 9162 §2.1 Merkle hashing: the published test vectors, and every proof of small trees against a naive tree."""

from __future__ import annotations

import hashlib

from crypto.tlog import merkle

# The RFC 6962 reference leaves and the root of each tree size 1..8 (certificate-transparency test data).
LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f")]
ROOTS = ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
         "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
         "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
         "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
         "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
         "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
         "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
         "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]
INCLUSION_5_OF_8 = ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]
CONSISTENCY_2_TO_8 = ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]


def naive_root(leaves: list[bytes]) -> bytes:
    """MTH of §2.1.1 written as the RFC writes it."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = merkle.split(len(leaves))
    return merkle.node_hash(naive_root(leaves[:k]), naive_root(leaves[k:]))


def subtree_of(leaves: list[bytes]):
    return lambda start, end: naive_root(leaves[start:end])


def test_roots_match_the_published_vectors():
    """Every tree size 1..8 of the reference leaves gives the published root, grown leaf by leaf."""
    tree = merkle.CompactRange()
    assert tree.root() == merkle.EMPTY_ROOT == hashlib.sha256(b"").digest()
    for n, leaf in enumerate(LEAVES):
        tree.append(merkle.leaf_hash(leaf))
        assert tree.root().hex() == ROOTS[n]


def test_proofs_match_the_published_vectors():
    leaves = [merkle.leaf_hash(x) for x in LEAVES]
    assert [p.hex() for p in merkle.inclusion_proof(5, 8, subtree_of(leaves))] == INCLUSION_5_OF_8
    assert [p.hex() for p in merkle.consistency_proof(2, 8, subtree_of(leaves))] == CONSISTENCY_2_TO_8
    root8 = bytes.fromhex(ROOTS[7])
    assert merkle.verify_inclusion(5, 8, leaves[5], [bytes.fromhex(h) for h in INCLUSION_5_OF_8], root8)
    assert merkle.verify_consistency(2, 8, bytes.fromhex(ROOTS[1]), root8,
                                     [bytes.fromhex(h) for h in CONSISTENCY_2_TO_8])


def test_every_inclusion_proof_of_small_trees_verifies_and_no_altered_one_does():
    leaves = [merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(70)]
    for n in range(1, 70):
        root = naive_root(leaves[:n])
        sub = subtree_of(leaves)
        for i in range(n):
            proof = merkle.inclusion_proof(i, n, sub)
            assert merkle.verify_inclusion(i, n, leaves[i], proof, root)
            assert not merkle.verify_inclusion(i, n, leaves[(i + 1) % 70], proof, root)
            if n > 1:
                assert not merkle.verify_inclusion((i + 1) % n, n, leaves[i], proof, root)
                bent = list(proof)
                bent[len(bent) // 2] = bytes(32)
                assert not merkle.verify_inclusion(i, n, leaves[i], bent, root)
                assert not merkle.verify_inclusion(i, n, leaves[i], proof[:-1], root)
                assert not merkle.verify_inclusion(i, n, leaves[i], proof + [bytes(32)], root)


def test_every_consistency_proof_of_small_trees_verifies_and_no_forked_one_does():
    leaves = [merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(40)]
    forked = list(leaves)
    forked[3] = merkle.leaf_hash(b"rewritten")
    for n in range(1, 40):
        new_root = naive_root(leaves[:n])
        for m in range(0, n + 1):
            proof = merkle.consistency_proof(m, n, subtree_of(leaves))
            old_root = naive_root(leaves[:m])
            assert merkle.verify_consistency(m, n, old_root, new_root, proof), (m, n)
            if m > 3:  # a tree whose leaf 3 was rewritten is no extension of the old one
                assert not merkle.verify_consistency(m, n, naive_root(forked[:m]), new_root, proof)
                assert not merkle.verify_consistency(m, n, old_root, naive_root(forked[:n]), proof)
            if 0 < m < n:
                assert not merkle.verify_consistency(m, n, old_root, new_root, proof[:-1])
                assert not merkle.verify_consistency(m, n, old_root, new_root, [bytes(32)] + proof[1:])


def test_compact_range_reports_the_subtrees_each_leaf_closes():
    tree = merkle.CompactRange()
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(16)]
    closed = [tree.append(leaf) for leaf in leaves]
    assert [(h, i) for h, i, _ in closed[7]] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert closed[7][-1][2] == naive_root(leaves[:8])
    again = merkle.CompactRange(11, [naive_root(leaves[:8]), naive_root(leaves[8:10]), leaves[10]])
    assert again.root() == naive_root(leaves[:11])
    assert merkle.peak_ranges(11) == [(3, 0), (1, 4), (0, 10)]
    node = lambda h, i: naive_root(leaves[i << h:(i + 1) << h])  # noqa: E731
    assert merkle.range_hash(8, 13, node) == naive_root(leaves[8:13])
