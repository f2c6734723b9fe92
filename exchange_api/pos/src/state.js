// The till's state: the session (who is signed in, until when), the view, the sale on screen and the lists last
// read. main.js changes it and redraws the views from it. Nothing here is written to storage but the language.
import { setLang } from "../../wallet/src/i18n.js";

const LANG_STORE = "citypoints.pos.lang";

export const state = {
  session: null,       // GET/POST /v1/pos/session: {merchant: {address, name: {zh, en}}, key: {id, scope}, expiresAt}
  checked: false,      // the session was asked for once (the page shows nothing before)
  busy: null,          // what is being done: "signin", "ask", "cancel:<id>", "refund:<id>", "redeliver:<id>"
  error: null,         // the last failure (an ApiError or a message key), shown where it happened
  view: "sale",        // "sale" | "open" | "today" | "statement" | "webhooks" | "keys" (the last three: managers)
  sale: null,          // the request on screen: the API's request, plus `progress` from its event stream
  open: null,          // GET /v1/redemption_requests?status=open
  today: null,         // {sales: [...the merchant's redemptions made today, with their order labels]}
  statement: null,     // {from, to, rows, csv}: confirmed sales of a date range (views/statement.js)
  webhooks: null,      // the merchant's webhook endpoints, each with its last deliveries
  redelivered: {},     // delivery id -> true once a retry was queued
  refunding: null,     // the sale whose refund form is open
  refundResult: {},    // redemption id -> what its last refund did, in words
  notice: null,        // a short sentence after sign-out
  voucherInput: "",    // the voucher code typed (or given by the QR's link, ?voucher=)
  confirmRefund: null, // the voucher whose refund the cashier is asked to confirm
  checkedOff: null,    // the voucher this till just checked off (its "hand it over" line)
  voucher: null,       // the voucher found (GET /v1/vouchers?code=), false when the code names none of this shop's
  keys: null,          // GET /v1/keys: the shop's keys (managers only)
  shownKey: null,      // a key just made or rotated: shown once, until "I have copied it"
  newScope: "cashier", // the new staff key's scope as chosen
  rotating: null,      // the key whose rotation form is open
  grace: 86400,        // the rotation's grace as chosen (seconds)
  revoking: null,      // the key whose revocation waits for the second click
  applying: false,     // the sign-in screen's "Apply to accept points" form is open
  applyChoice: {},     // its category and district as chosen
  vocabulary: null,    // the catalogue's categories and districts (GET /v1/catalogue/vocabulary)
  applied: null,       // the application's answer: id and claim link, shown once
  claim: null,         // {id, secret, key?}: the claim link opened (#claim/<id>/<secret>)
};

export function startLang(asked) {
  const guess = (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
  setLang(asked || localStorage.getItem(LANG_STORE) || guess);
}

export function chooseLang(code) {
  localStorage.setItem(LANG_STORE, setLang(code));
}

/** The signed-in key may do a manager's part (refunds, statements, webhooks, keys); a cashier's takes sales. */
export function isManager() {
  return Boolean(state.session && state.session.key && state.session.key.scope === "manager");
}
