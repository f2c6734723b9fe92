// The resident's spending order of programmes: which programme's points a payment takes first. Kept on this device
// only (per account, in localStorage); the wallet sends it when it opens a payment request, the API plans the consent
// in that order (among the plans that burn the least value), and the resident signs that plan, so the chain takes
// exactly it.
import { state } from "./state.js";

const STORE = "citypoints.wallet.order.";

/** The programmes a payment can take (valued ones the ledger knows), in the resident's order: the order kept here
 * first, then the rest by id. */
export function spendingOrder() {
  const valued = [...state.schemes.values()].filter((s) => s.kind !== "eligibility-only" && s.status !== "none")
    .map((s) => String(s.scheme)).sort((a, b) => Number(a) - Number(b));
  const kept = stored().filter((id) => valued.includes(id));
  return [...kept, ...valued.filter((id) => !kept.includes(id))];
}

/** Move programme `id` by `step` places (-1 up, +1 down) and keep the new order; returns it. */
export function move(id, step) {
  const order = spendingOrder();
  const i = order.indexOf(String(id));
  const j = i + step;
  if (i < 0 || j < 0 || j >= order.length) return order;
  [order[i], order[j]] = [order[j], order[i]];
  localStorage.setItem(STORE + state.record.address.toLowerCase(), JSON.stringify(order));
  return order;
}

/** Whether the resident chose an order on this device (else the API's default order applies). */
export function chosen() {
  return stored().length > 0;
}

function stored() {
  if (!state.record) return [];
  try {
    const v = JSON.parse(localStorage.getItem(STORE + state.record.address.toLowerCase()) || "[]");
    return Array.isArray(v) ? v.map(String).filter((x) => /^\d{1,20}$/.test(x)).slice(0, 16) : [];
  } catch {
    return [];
  }
}
