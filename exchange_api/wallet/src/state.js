// The page's state: one object every view reads, and the few functions that fill it from the API. Views change
// their own fields (what is typed, what is open) and then ask main.js to draw through `page`.
import { setLang, lang, setSchemeProfiles } from "./i18n.js";
import { api, ApiError } from "./api.js";
import * as keystore from "./keystore.js";
import * as session from "./session.js";

const LANG_STORE = "citypoints.wallet.lang";
export const VIEWS = ["points", "pay", "shops", "exchange", "receive", "settings"]; // the tabs, in order: state.view is one

export const state = {
  record: keystore.load(),
  view: "points",
  schemes: new Map(), // id -> {scheme, status, rate, kind, profile, rules} (/v1/schemes)
  scheduledRates: [], // rate changes the consortium approved, waiting out their notice (/v1/rates)
  balances: null,
  caps: null,              // today's received points and caps per programme (/v1/residents/{a}/caps; views/caps.js)
  audit: null,             // the balance check against the auditor's last attested report (views/audit.js)
  loadError: null,
  history: [],
  historyMore: false,
  waiting: [],
  codeInput: "",
  request: null,
  requestError: null,
  fromLink: false,
  scanError: null,         // why the camera could not open a request (views/pay.js, scan.js)
  payResult: null,
  ex: { from: "", to: "", points: "", slippage: 100 },
  quote: null,
  quoteAt: 0,
  quoteError: null,
  quoteSeq: 0,
  exResult: null,
  revealed: null,
  notice: null,
  welcome: "create", // the first screen's form: create | import | lost (create, after "Lost your key?")
  recovery: null,          // the latest recovery of this key's account (views/recovery.js)
  recoveryToward: null,    // the latest recovery toward this key
  recoveryPolicy: null,    // { noticeSeconds, office }
  recoveryStopped: false,  // this page's objection stopped a recovery
  objecting: false,        // the objection form is open
  trail: null,             // the identity-use trail's entries of this key, once signed in (views/trail.js)
};

// main.js draws the page and fills these in at start; views call them after a change, so that no view imports
// the entry module (which imports every view).
export const page = { render: null, show: null, refresh: null, refreshUntil: null };

/** Reads schemes, balances, the first history page and the open requests; true when anything shown changed. */
export async function load() {
  const address = state.record.address;
  const before = snapshotKey();
  try {
    const [schemes, balances, hist, waiting, rates, caps] = await Promise.all([
      api.schemes(), api.balances(address), api.history(address, null, Math.min(100, Math.max(25, state.history.length))),
      waitingFor(address), api.rates(), api.caps(address).catch(() => null)]);
    state.caps = caps;
    state.scheduledRates = rates.scheduled || [];
    state.schemes = new Map(schemes.map((s) => [String(s.scheme), s]));
    setSchemeProfiles(schemes);
    state.balances = balances;
    state.history = hist.data;
    state.historyMore = hist.has_more;
    state.waiting = waiting;
    state.loadError = null;
  } catch (exc) {
    state.loadError = exc;
  }
  return snapshotKey() !== before;
}

/** The next history page, appended; an API error is thrown to the caller, which says so. */
export async function loadMoreHistory() {
  const last = state.history[state.history.length - 1];
  const next = await api.history(state.record.address, last && last.id);
  state.history = state.history.concat(next.data);
  state.historyMore = next.has_more;
}

export async function loadWaiting() {
  if (!state.record) return;
  state.waiting = await waitingFor(state.record.address);
}

/** The key is gone from this device: back to the welcome page with nothing of the resident's left in memory. */
export function forgetKey() {
  keystore.remove();
  session.clear();
  Object.assign(state, { record: null, balances: null, caps: null, audit: null, history: [], waiting: [], request: null,
    revealed: null,
    view: "points", recovery: null, recoveryToward: null, recoveryStopped: false, objecting: false,
    welcome: "create" });
}

/** The language from the link, else the one chosen before, else the browser's. */
export function startLang(asked) {
  const guess = (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
  setLang(asked || localStorage.getItem(LANG_STORE) || guess);
}

/** The resident chose a language: used now and remembered. */
export function chooseLang(code) {
  setLang(code);
  localStorage.setItem(LANG_STORE, lang());
}

function snapshotKey() {
  const b = state.balances;
  const caps = state.caps && state.caps.caps.map((c) => `${c.scheme}:${c.receivedToday}:${c.cap}`).join();
  return JSON.stringify([caps, b && String(b.asOfBlock), b && String(b.totalCredits),
    state.history.length && state.history[0].id, state.waiting.map((r) => r.id), state.loadError && state.loadError.code]);
}

/** The open requests, read with the resident's session token; none without one (the list is a convenience:
 * the code field still works). */
async function waitingFor(address) {
  const tok = session.token(address);
  if (!tok) return [];
  try {
    return await api.waitingRequests(address, tok);
  } catch (exc) {
    if (exc instanceof ApiError && (exc.status === 401 || exc.status === 403)) session.clear();
    return [];
  }
}
