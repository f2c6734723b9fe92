// What the resident signs must be exactly what the page shows them: the API sends each EIP-712 document, and
// these checks compare it with the summary before a key is unlocked. A mismatch means nothing is signed.
import * as fmt from "./format.js";

/** A merchant's RedemptionConsent names this resident and the merchant, credits, order, nonce and deadline shown,
 * and a plan whose parts (shown to the resident, as signed) are distinct programs adding up to the credits. */
export function consentMatches(req, resident) {
  const td = req.typedData || {};
  const m = td.message || {};
  const same = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();
  const parts = Array.isArray(m.parts) ? m.parts : [];
  const schemes = new Set(parts.map((p) => String(p.scheme)));
  const paid = parts.reduce((sum, p) => sum + fmt.big(p.credits), 0n);
  return td.primaryType === "RedemptionConsent" && td.domain && td.domain.name === "CityPoints" &&
    td.domain.version === "1" && same(m.resident, resident) && same(m.merchant, req.merchant) &&
    fmt.big(m.credits) === fmt.big(req.credits) && same(m.orderRef, req.orderRef) && same(m.nonce, req.nonce) &&
    fmt.big(m.deadline) === fmt.big(req.deadline) && parts.length > 0 && schemes.size === parts.length &&
    parts.every((p) => fmt.big(p.credits) > 0n) && paid === fmt.big(m.credits);
}

/** A quote's ExchangeIntent is this resident's, for the programs and points typed, with the quoted minimum, unexpired. */
export function intentMatches(q, input, resident) {
  const td = q.typedData || {};
  const m = td.message || {};
  return td.primaryType === "ExchangeIntent" && td.domain && td.domain.name === "CityPoints" &&
    td.domain.version === "1" && String(m.resident).toLowerCase() === resident.toLowerCase() &&
    fmt.big(m.fromScheme) === input.fromScheme && fmt.big(m.toScheme) === input.toScheme &&
    fmt.big(m.points) === input.points && fmt.big(m.minReceived) === fmt.big(q.minReceived) &&
    fmt.big(m.deadline) * 1000n > BigInt(Date.now());
}
