// The point-of-sale page's calls: the wallet's API client (api.js) with the session cookie (sessionRequest): the
// merchant's API key is sent once, to sign in, and never kept by the page.
import { sessionRequest } from "../../wallet/src/api.js";

const enc = encodeURIComponent;
const call = (method, path, body) => sessionRequest(method, path, body).then((r) => r.data);

export const pos = {
  signIn: (apiKey) => call("POST", "/pos/session", { apiKey }),
  session: () => call("GET", "/pos/session"),
  signOut: () => call("DELETE", "/pos/session"),
  ask: (resident, credits, orderRef) => call("POST", "/redemption_requests", { resident, credits, orderRef }),
  requests: (status, limit = 50) => call("GET", `/redemption_requests?status=${enc(status)}&limit=${limit}`),
  cancel: (id) => call("POST", `/redemption_requests/${enc(id)}/cancel`, {}),
  sales: (params) => call("GET", `/redemptions?${new URLSearchParams({ limit: "100", ...params })}`),
  webhooks: () => call("GET", "/webhook_endpoints"),
  deliveries: (id) => call("GET", `/webhook_endpoints/${enc(id)}/deliveries?limit=20`),
  redeliver: (id, deliveryId) =>
    call("POST", `/webhook_endpoints/${enc(id)}/deliveries/${enc(deliveryId)}/redeliver`, {}),
  keys: () => call("GET", "/keys"),
  createKey: (name, scope) => call("POST", "/keys", { name, scope }),
  rotateKey: (id, graceSeconds) => call("POST", `/keys/${enc(id)}/rotate`, { graceSeconds }),
  revokeKey: (id) => call("DELETE", `/keys/${enc(id)}`),
  apply: (application) => call("POST", "/merchant_applications", application),
  claim: (id, secret) => call("POST", `/merchant_applications/${enc(id)}/claim`, { secret }),
  refund: (redemptionId, credits) => call("POST", `/redemptions/${enc(redemptionId)}/refunds`, { credits, wait: true }),
  // vouchers residents redeemed offers for (views/vouchers.js)
  voucherByCode: (code) => call("GET", `/vouchers?${new URLSearchParams({ code, limit: "1" })}`),
  voucher: (id) => call("GET", `/vouchers/${enc(id)}`),
  checkOff: (id) => call("POST", `/vouchers/${enc(id)}/check_off`, {}),
  refundVoucher: (id) => call("POST", `/vouchers/${enc(id)}/refund`, { wait: true }),
  /** The request's live status (server-sent events; the cookie goes along on this origin). */
  follow: (id) => new EventSource(`/v1/redemption_requests/${enc(id)}/events`),
};
