"""The Merkle tree of all balances, built exactly as OpenZeppelin's `StandardMerkleTree.of(values,
["address","uint256","uint256"])` builds it (npm @openzeppelin/merkle-tree): leaf =
keccak256(keccak256(abi.encode(account, scheme, balance))), leaves sorted by hash, an array-backed complete
binary tree whose leaves fill the array's end in reverse order, and sorted-pair hashing of nodes. So a proof from
the report verifies with OpenZeppelin's MerkleProof (on chain: AuditAttestations.verifyBalance) and the npm
package alike.
"""
from __future__ import annotations

from eth_abi import encode as abi_encode
from eth_utils import keccak

LEAF_ENCODING = ["address", "uint256", "uint256"]


def leaf_hash(account: str, scheme: int, balance: int) -> bytes:
    return keccak(keccak(abi_encode(LEAF_ENCODING, [account, scheme, balance])))


def node_hash(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a <= b else keccak(b + a)


class BalanceTree:
    def __init__(self, lines: list[tuple[str, int, int]]):
        """`lines`: (account, scheme, balance) values; order does not matter (leaves are sorted by hash)."""
        if not lines:
            raise ValueError("a Merkle tree needs at least one line")
        hashed = sorted(((leaf_hash(a, s, b), (a, s, b)) for a, s, b in lines), key=lambda x: x[0])
        n = len(hashed)
        self.tree: list[bytes] = [b""] * (2 * n - 1)
        self.index: dict[tuple[str, int], int] = {}
        self.values: list[tuple[str, int, int]] = []
        for i, (h, v) in enumerate(hashed):
            pos = len(self.tree) - 1 - i
            self.tree[pos] = h
            self.index[(v[0].lower(), v[1])] = pos
            self.values.append(v)
        for i in range(len(self.tree) - 1 - n, -1, -1):
            self.tree[i] = node_hash(self.tree[2 * i + 1], self.tree[2 * i + 2])

    @property
    def root(self) -> str:
        return "0x" + self.tree[0].hex()

    def proof(self, account: str, scheme: int) -> list[str]:
        i = self.index[(account.lower(), scheme)]
        out = []
        while i > 0:
            sibling = i - 1 if i % 2 == 0 else i + 1
            out.append("0x" + self.tree[sibling].hex())
            i = (i - 1) // 2
        return out


def verify(root: str, proof: list[str], account: str, scheme: int, balance: int) -> bool:
    h = leaf_hash(account, scheme, balance)
    for p in proof:
        h = node_hash(h, bytes.fromhex(p[2:]))
    return "0x" + h.hex() == root.lower()


def balance_lines(balances: dict[tuple[int, str], int]) -> list[tuple[str, int, int]]:
    """Every nonzero balance as a (account, scheme, balance) line, in a stable order."""
    return sorted((a, s, v) for (s, a), v in balances.items() if v)
