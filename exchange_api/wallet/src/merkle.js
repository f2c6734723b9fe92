// The auditor's balances tree, checked in the browser: the same hashing as ledger_node/merkle.py (OpenZeppelin's
// StandardMerkleTree of (address, uint256 scheme, uint256 balance)): leaf = keccak256(keccak256(abi.encode(...))),
// nodes hash their two children sorted. Nothing here trusts the API: the root a proof gives is compared with the
// root the auditor recorded on the ledger.
import { AbiCoder, keccak256, concat, getBytes } from "ethers";

export const LEAF_ENCODING = ["address", "uint256", "uint256"];

export function leafHash(account, scheme, balance) {
  const encoded = AbiCoder.defaultAbiCoder().encode(LEAF_ENCODING, [account, BigInt(scheme), BigInt(balance)]);
  return keccak256(getBytes(keccak256(encoded)));
}

function nodeHash(a, b) {
  return BigInt(a) <= BigInt(b) ? keccak256(concat([a, b])) : keccak256(concat([b, a]));
}

/** The root a line's proof leads to (0x-hex, lower case). */
export function rootOf(account, scheme, balance, proof) {
  let h = leafHash(account, scheme, balance);
  for (const p of proof) {
    if (!/^0x[0-9a-fA-F]{64}$/.test(String(p))) throw new TypeError("a proof step is not 32 bytes of hex");
    h = nodeHash(h, p);
  }
  return h.toLowerCase();
}
