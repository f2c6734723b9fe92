// The resident's session: a bearer token for a few minutes, for what only the resident may read (the payment
// requests waiting for them: which merchant they are paying). Got by signing an EIP-712 ResidentLogin with the
// key; kept in memory only (a reload signs in again).
import { api } from "./api.js";

let current = null; // { address, token, expiresAt (ms) }

const LOGIN_FIELDS = [["resident", "address"], ["issuedAt", "uint256"], ["nonce", "bytes32"]];

/** The token for this address while it has more than a few seconds left, else null. */
export function token(address) {
  if (!current || current.address.toLowerCase() !== String(address).toLowerCase()) return null;
  return Date.now() < current.expiresAt - 5000 ? current.token : null;
}

export function clear() {
  current = null;
}

/** Sign the API's ResidentLogin with `wallet` and keep the token. Signs nothing but a login for this address. */
export async function signIn(wallet) {
  const challenge = await api.loginChallenge(wallet.address);
  const td = challenge.typedData || {};
  const fields = (td.types && td.types.ResidentLogin) || [];
  const m = td.message || {};
  const ok = td.primaryType === "ResidentLogin" && td.domain && td.domain.name === "CityPoints" &&
    Object.keys(td.types).every((k) => k === "EIP712Domain" || k === "ResidentLogin") &&
    fields.length === LOGIN_FIELDS.length && fields.every((f, i) => f.name === LOGIN_FIELDS[i][0] && f.type === LOGIN_FIELDS[i][1]) &&
    String(m.resident).toLowerCase() === wallet.address.toLowerCase();
  if (!ok) throw new Error("unexpected login document");
  const { EIP712Domain, ...types } = td.types;
  const signature = await wallet.signTypedData(td.domain, types, m);
  const s = await api.login(wallet.address, { issuedAt: m.issuedAt, nonce: m.nonce, signature });
  current = { address: wallet.address, token: s.token, expiresAt: Number(s.expiresAt) * 1000 };
}
