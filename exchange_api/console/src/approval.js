// A consortium member's approval signed in this page: the member's key is kept encrypted in this browser by the
// wallet's keystore.js (its own storage slot, apart from a resident's wallet key), unlocked for one signature.
// The EIP-712 ProposalApproval is built here from what the page shows (the calls hash recomputed from the calls
// listed, domain CityPoints / 1 / chain / Consortium), the same document `citypoints gov sign` signs, and the API
// relays it to Consortium.approveBySig. Nothing is signed when the listed calls do not give the API's calls hash.
import * as keystore from "../../wallet/src/keystore.js";
import { callsHash } from "./calls.js";

const STORE = keystore.CONSOLE_MEMBER_STORE;
export const VALID_FOR_S = 7 * 24 * 3600; // the signature's deadline: a week of chain time, as `gov sign`'s default

export class CallsMismatch extends Error {}
export class PasswordTooShort extends Error {}

export const memberKey = {
  load: () => keystore.load(STORE),
  /** Encrypt and keep a member's private key (hex); RangeError for one that is not a key. */
  async save(privateKey, password) {
    const key = keystore.normalisePrivateKey(privateKey);
    if (String(password).length < keystore.MIN_PASSWORD) throw new PasswordTooShort("password too short");
    return keystore.save(key, password, STORE);
  },
  remove: () => keystore.remove(STORE),
};

/** The EIP-712 document of `proposal`'s approval until `deadline`, as `citypoints gov sign` writes it. */
export function approvalDocument(listing, proposal, deadline) {
  const hash = callsHash(proposal.calls);
  if (hash.toLowerCase() !== String(proposal.callsHash).toLowerCase()) {
    throw new CallsMismatch("the calls shown do not give the proposal's calls hash");
  }
  return {
    domain: { name: "CityPoints", version: "1", chainId: listing.chainId, verifyingContract: listing.consortium },
    types: { ProposalApproval: [{ name: "proposalId", type: "uint256" }, { name: "callsHash", type: "bytes32" },
      { name: "deadline", type: "uint256" }] },
    message: { proposalId: proposal.id, callsHash: hash, deadline },
  };
}

/** Unlock the member's key with `password` and sign `proposal`'s approval: the API's body
 * {member, deadline, signature}. Throws keystore.WrongPassword or CallsMismatch. */
export async function signApproval(record, password, listing, proposal) {
  const deadline = Number(listing.chainTime) + VALID_FOR_S;
  const doc = approvalDocument(listing, proposal, deadline);
  let wallet = await keystore.unlock(record, password);
  const signature = await wallet.signTypedData(doc.domain, doc.types, doc.message);
  wallet = null;
  return { member: record.address, deadline, signature };
}
