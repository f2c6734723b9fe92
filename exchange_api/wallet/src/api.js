// The Exchange API on this page's own origin. Errors arrive as {"error": {code, message, requestId}}; every
// failure becomes an ApiError with a stable code (network failures: "network").

export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.requestId = requestId || "";
  }
}

/** JSON.parse that keeps integers beyond 2^53 exact (as BigInt) where the browser gives the source text. */
export function parseJson(text) {
  return JSON.parse(text, function (key, value, context) {
    if (typeof value === "number" && !Number.isSafeInteger(value) && context && /^-?\d+$/.test(context.source)) {
      return BigInt(context.source);
    }
    return value;
  });
}

/** JSON.stringify that writes BigInt as a plain JSON integer. */
export function toJson(body) {
  const marked = JSON.stringify(body, (k, v) => (typeof v === "bigint" ? `\u0000big:${v}` : v));
  return marked.replace(/"\\u0000big:(-?\d+)"/g, "$1");
}

function idempotencyKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return "wallet-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// `path` is under /v1; `url` (readyUrl) is any path on this origin. `session`: the point-of-sale page's
// (exchange_api/pos): its HttpOnly session cookie goes along, and every change carries the CSRF header the API
// asks of a cookie session; the wallet and the console send no cookies.
async function request(method, path, body, token, url = `/v1${path}`, session = false) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (session && method !== "GET") headers["X-CityPoints-POS"] = "1";
  const init = { method, headers, cache: "no-store", credentials: session ? "same-origin" : "omit",
    referrerPolicy: "no-referrer" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    headers["Idempotency-Key"] = idempotencyKey();
    init.body = toJson(body);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (exc) {
    throw new ApiError(0, "network", String(exc), "");
  }
  const text = await resp.text();
  let data = null;
  try {
    data = text ? parseJson(text) : null;
  } catch {
    data = null;
  }
  if (!resp.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(resp.status, e.code || `http_${resp.status}`, e.message || resp.statusText,
      e.requestId || resp.headers.get("x-request-id"));
  }
  return { status: resp.status, data };
}

const enc = encodeURIComponent;

/** A request of the point-of-sale page, with its session cookie (see `request`). */
export function sessionRequest(method, path, body) {
  return request(method, path, body, undefined, `/v1${path}`, true);
}

export const api = {
  schemes: () => request("GET", "/schemes").then((r) => r.data.data),
  balances: (address) => request("GET", `/residents/${enc(address)}/balances`).then((r) => r.data),
  history: (address, startingAfter, limit = 25) => {
    const q = new URLSearchParams({ limit: String(limit) });
    if (startingAfter) q.set("starting_after", startingAfter);
    return request("GET", `/residents/${enc(address)}/history?${q}`).then((r) => r.data);
  },
  // only the resident lists their open requests: a token from a signed ResidentLogin (session.js)
  loginChallenge: (address) => request("GET", `/residents/${enc(address)}/login`).then((r) => r.data),
  login: (address, body) => request("POST", `/residents/${enc(address)}/login`, body).then((r) => r.data),
  waitingRequests: (address, token) =>
    request("GET", `/residents/${enc(address)}/redemption_requests?limit=20`, undefined, token).then((r) => r.data.data),
  // key recovery (views/recovery.js): public reads; the objection is signed by the old key, relayed without gas
  recovery: (address) => request("GET", `/recoveries/${enc(address)}`).then((r) => r.data),
  recoveriesToward: (address) =>
    request("GET", `/recoveries?${new URLSearchParams({ newAccount: address })}`).then((r) => r.data.data),
  recoveryPolicy: () => request("GET", "/recoveries/policy").then((r) => r.data),
  objectToRecovery: (address, body) =>
    request("POST", `/recoveries/${enc(address)}/objection`, body).then((r) => r.data),
  // the identity-use trail (views/trail.js): the resident's token reads it; the objection is the resident's signature
  identityTrail: (address, token) =>
    request("GET", `/residents/${enc(address)}/identity_trail`, undefined, token).then((r) => r.data),
  objectToIdentityUse: (entryId, body) =>
    request("POST", `/identity_trail/${enc(entryId)}/objection`, body).then((r) => r.data),
  caps: (address) => request("GET", `/residents/${enc(address)}/caps`).then((r) => r.data),
  balanceProof: (address) => request("GET", `/residents/${enc(address)}/balance_proof`).then((r) => r.data),
  // `order`: the resident's spending order (order.js), so the consent's plan takes the first programme first
  request: (id, order) => request("GET", `/redemption_requests/${enc(id)}${order && order.length
    ? `?${new URLSearchParams({ order: order.join(",") })}` : ""}`).then((r) => r.data),
  approve: (id, signature, parts) =>
    request("POST", `/redemption_requests/${enc(id)}/approve`, { signature, parts, wait: true }).then((r) => r.data),
  quote: (body) => request("POST", "/exchange_quotes", body).then((r) => r.data),
  exchange: (body) => request("POST", "/exchanges", { ...body, wait: true }).then((r) => r.data),
  // the consortium's console (exchange_api/console): public reads, and the statements with an auditor API key
  rates: () => request("GET", "/rates").then((r) => r.data),
  supply: () => request("GET", "/supply").then((r) => r.data),
  periods: () => request("GET", "/periods").then((r) => r.data.data),
  indexer: () => request("GET", "/indexer").then((r) => r.data),
  statements: (apiKey) => request("GET", "/statements", undefined, apiKey).then((r) => r.data.data),
  merchantApplications: (apiKey) =>
    request("GET", "/merchant_applications", undefined, apiKey).then((r) => r.data.data),
  proposals: (limit = 20) => request("GET", `/proposals?limit=${limit}`).then((r) => r.data),
  approveProposal: (id, body) => request("POST", `/proposals/${enc(id)}/approvals`, body).then((r) => r.data),
  node: () => request("GET", "/node").then((r) => r.data),
  daily: (days = 14) => request("GET", `/activity/daily?days=${days}`).then((r) => r.data.days),
  attestations: (limit = 1) => request("GET", `/attestations?limit=${limit}`).then((r) => r.data.data),
  merchantStatuses: () => request("GET", "/merchants").then((r) => r.data),
  holdings: () => request("GET", "/holdings").then((r) => r.data),
  trailObjections: (limit = 20) => request("GET", `/identity_trail/objections?limit=${limit}`).then((r) => r.data),
  // the offers catalogue (views/shops.js): public reads
  catalogueVocabulary: () => request("GET", "/catalogue/vocabulary").then((r) => r.data),
  catalogueOffers: (params) => request("GET", `/catalogue/offers?${new URLSearchParams(params)}`).then((r) => r.data),
  catalogueMerchants: (params) =>
    request("GET", `/catalogue/merchants?${new URLSearchParams(params)}`).then((r) => r.data),
  // vouchers (views/vouchers.js): only the resident, with the token of a signed ResidentLogin
  reserveVoucher: (address, offer, token) =>
    request("POST", `/residents/${enc(address)}/vouchers`, { offer }, token).then((r) => r.data),
  vouchers: (address, token) =>
    request("GET", `/residents/${enc(address)}/vouchers?limit=50`, undefined, token).then((r) => r.data),
  voucher: (address, id, token) =>
    request("GET", `/residents/${enc(address)}/vouchers/${enc(id)}`, undefined, token).then((r) => r.data),
  cancelVoucher: (address, id, token) =>
    request("DELETE", `/residents/${enc(address)}/vouchers/${enc(id)}`, undefined, token).then((r) => r.data),
  ready: () => request("GET", "", undefined, undefined, "/health/ready").then((r) => r.data),
};
