// The resident's wallet: balances and history, the address as a QR code, approving merchants' payment requests
// (EIP-712 RedemptionConsent) and exchanging between programs (EIP-712 ExchangeIntent). It talks only to the
// API on its own origin; the private key stays in this browser, encrypted (keystore.js).
import QRCode from "qrcode";
import { t, setLang, lang, schemeName, reasonLabel } from "./i18n.js";
import * as fmt from "./format.js";
import { api, ApiError } from "./api.js";
import * as keystore from "./keystore.js";
import * as session from "./session.js";

const LANG_STORE = "citypoints.wallet.lang";
const VIEWS = ["points", "pay", "exchange", "receive", "settings"];
const SLIPPAGES = [50, 100, 200, 500]; // basis points
const QUOTE_MAX_AGE_MS = 60_000;

const state = {
  record: keystore.load(),
  view: "points",
  schemes: new Map(), // id -> {scheme, status, rate}
  balances: null,
  loadError: null,
  history: [],
  historyMore: false,
  waiting: [],
  codeInput: "",
  request: null,
  requestError: null,
  fromLink: false,
  payResult: null,
  ex: { from: "", to: "", points: "", slippage: 100 },
  quote: null,
  quoteAt: 0,
  quoteError: null,
  quoteSeq: 0,
  exResult: null,
  revealed: null,
  notice: null,
  welcome: "import",
};

// ---- start ----------------------------------------------------------------------------------------------------

function start() {
  const params = new URLSearchParams(location.search);
  const guess = (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
  setLang(params.get("lang") || localStorage.getItem(LANG_STORE) || guess);
  const fromLink = params.get("request");
  if (fromLink) {
    state.codeInput = fromLink;
    state.fromLink = true;
    history.replaceState(null, "", location.pathname + "#/pay");
  }
  state.view = viewFromHash() || (fromLink ? "pay" : "points");
  window.addEventListener("hashchange", () => {
    const v = viewFromHash();
    if (v && v !== state.view) show(v, { focus: true });
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.record) refresh();
  });
  setInterval(tick, 1000);
  setInterval(() => {
    if (!document.hidden && state.record) refresh({ quiet: true });
  }, 15_000);
  render();
  if (state.record) {
    refresh().then(() => {
      if (fromLink) openRequest(fromLink);
    });
  }
}

function viewFromHash() {
  const v = location.hash.replace(/^#\/?/, "").split("?")[0];
  return VIEWS.includes(v) ? v : null;
}

function show(view, { focus = false } = {}) {
  state.view = view;
  if (location.hash !== `#/${view}`) history.replaceState(null, "", `#/${view}`);
  render();
  if (focus) document.querySelector("main h1")?.focus();
  if (view === "pay" && state.record) loadWaiting().then(renderWaiting);
  if (view === "exchange") requestQuote();
}

// ---- data -----------------------------------------------------------------------------------------------------

async function refresh({ quiet = false } = {}) {
  if (!state.record) return;
  const address = state.record.address;
  const before = snapshotKey();
  try {
    const [schemes, balances, hist, waiting] = await Promise.all([
      api.schemes(), api.balances(address), api.history(address, null, Math.min(100, Math.max(25, state.history.length))),
      waitingFor(address)]);
    state.schemes = new Map(schemes.map((s) => [String(s.scheme), s]));
    state.balances = balances;
    state.history = hist.data;
    state.historyMore = hist.has_more;
    state.waiting = waiting;
    state.loadError = null;
  } catch (exc) {
    state.loadError = exc;
  }
  if (quiet && (state.view !== "points" || snapshotKey() === before)) {
    renderWaiting(); // never re-render a form the resident may be typing in, nor an unchanged page
    return;
  }
  render();
}

function snapshotKey() {
  const b = state.balances;
  return JSON.stringify([b && String(b.asOfBlock), b && String(b.totalCredits), state.history.length && state.history[0].id,
    state.waiting.map((r) => r.id), state.loadError && state.loadError.code]);
}

/** After a transaction: until the indexer has seen its block (or a few seconds pass). */
async function refreshUntil(block) {
  const until = Date.now() + 10_000;
  while (block != null && Date.now() < until) {
    try {
      const b = await api.balances(state.record.address);
      if (fmt.big(b.asOfBlock) >= fmt.big(block)) break;
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await refresh();
}

async function loadMoreHistory() {
  const last = state.history[state.history.length - 1];
  try {
    const page = await api.history(state.record.address, last && last.id);
    state.history = state.history.concat(page.data);
    state.historyMore = page.has_more;
  } catch (exc) {
    announce(errorText(exc));
  }
  render();
}

async function loadWaiting() {
  if (!state.record) return;
  state.waiting = await waitingFor(state.record.address);
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

// The sign-in form for the list: one element kept across renders, so a refresh never clears what is typed.
let loginBox = null;

function loginForm() {
  if (loginBox) return loginBox;
  const pw = passwordInput();
  const error = h("div", { class: "form-error" });
  const button = h("button", { type: "submit", class: "secondary", "data-testid": "login" }, t("pay.login"));
  loginBox = h("form", { class: "card login-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    error.replaceChildren();
    const done = busy(button, t("pay.loggingIn"));
    let wallet = await unlockOrExplain(pw, error, done);
    if (!wallet) return;
    try {
      await session.signIn(wallet);
      wallet = null;
      pw.value = "";
      done();
      await loadWaiting();
      renderWaiting();
    } catch (exc) {
      wallet = null;
      done();
      error.append(alertBox(errorText(exc)));
    }
  } },
  h("p", { class: "muted small" }, t("pay.loginHint")),
  field("login-password", t("pay.loginPassword"), pw),
  error,
  h("div", { class: "actions" }, button));
  return loginBox;
}

// ---- rendering ------------------------------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v == null) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const ICONS = {
  points: "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18Zm0 4v10m-3-7.5c0-1.1 1.3-2 3-2s3 .9 3 2-1.3 1.8-3 2.2-3 1.1-3 2.3 1.3 2 3 2 3-.9 3-2",
  pay: "M4 6h16v12H4zM4 10h16M8 15h3",
  exchange: "M7 7h11l-3-3M17 17H6l3 3",
  receive: "M4 4h6v6H4zM14 4h6v6h-6zM4 14h6v6H4zM14 14h2v2h-2zM18 18h2v2h-2zM18 14h2M14 18v2",
  settings: "M14.5 9.5a4 4 0 1 0-3.2 3.9L17 19h3v-3h-2v-2h-2l-1.7-1.7a4 4 0 0 0 .2-2.8ZM9 8.5h.01",
};

function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

function render() {
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  document.title = `${t("app.name")} · ${t("app.wallet")}`;
  const app = document.getElementById("app");
  const main = h("main", { id: "main", tabindex: "-1" });
  if (!state.record) main.append(welcomeView());
  else main.append({ points: pointsView, pay: payView, exchange: exchangeView, receive: receiveView,
    settings: settingsView }[state.view]());
  app.replaceChildren(...[
    h("a", { class: "skip", href: "#main", onclick: (e) => { e.preventDefault(); main.focus(); } }, t("skip")),
    header(),
    state.record ? nav() : null,
    main,
  ].filter(Boolean));
  if (state.view === "receive" && state.record) drawQr();
}

function header() {
  return h("header", { class: "top" },
    h("div", { class: "brand" },
      h("span", { class: "logo", "aria-hidden": "true" }, "CP"),
      h("span", { class: "brand-text" }, h("strong", null, t("app.name")), " ", h("span", null, t("app.wallet")))),
    state.record ? h("span", { class: "who", title: state.record.address }, fmt.short(state.record.address)) : null,
    h("button", { type: "button", class: "lang", lang: lang() === "zh" ? "en" : "zh-CN",
      "aria-label": t("lang.otherLabel"), onclick: switchLang }, t("lang.other")));
}

function switchLang() {
  setLang(lang() === "zh" ? "en" : "zh");
  localStorage.setItem(LANG_STORE, lang());
  render();
  document.querySelector("button.lang")?.focus();
}

function nav() {
  return h("nav", { class: "tabs", "aria-label": t("nav.label") },
    h("ul", null, VIEWS.map((v) => h("li", null,
      h("a", { href: `#/${v}`, "aria-current": state.view === v ? "page" : false,
        onclick: (e) => { e.preventDefault(); show(v, { focus: true }); } },
        icon(v), h("span", null, t(`nav.${v}`)),
        v === "pay" && state.waiting.length ? [h("span", { class: "badge", "aria-hidden": "true" },
          String(state.waiting.length)), h("span", { class: "visually-hidden" },
          t("nav.waitingCount", { n: state.waiting.length }))] : null)))));
}

function announce(text) {
  const live = document.getElementById("live");
  live.textContent = "";
  setTimeout(() => { live.textContent = text; }, 50);
}

function errorText(exc) {
  if (exc instanceof keystore.WrongPassword) return t("err.wrongPassword");
  if (exc instanceof keystore.NoCrypto) return t("err.noCrypto");
  if (exc instanceof ApiError) {
    const key = `err.${exc.code}`;
    const known = t(key);
    return known !== key ? known : t("err.generic", { code: exc.code, rid: exc.requestId || "-" });
  }
  return t("err.generic", { code: exc && exc.name ? exc.name : "error", rid: "-" });
}

function alertBox(text) {
  return text ? h("p", { class: "alert", role: "alert" }, text) : null;
}

function field(id, label, input, hint) {
  input.id = id;
  if (hint) input.setAttribute("aria-describedby", `${id}-hint`);
  return h("div", { class: "field" }, h("label", { for: id }, label), input,
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null);
}

function passwordInput(autocomplete = "current-password") {
  return h("input", { type: "password", autocomplete, required: true, minlength: String(keystore.MIN_PASSWORD) });
}

function busy(button, text) {
  const old = button.textContent;
  button.disabled = true;
  button.textContent = text;
  button.setAttribute("aria-busy", "true");
  return () => {
    button.disabled = false;
    button.textContent = old;
    button.removeAttribute("aria-busy");
  };
}

// ---- welcome: create or import a key ----------------------------------------------------------------------------

function welcomeView() {
  const tabs = ["import", "create"];
  return h("section", { class: "welcome", "aria-labelledby": "welcome-title" },
    h("h1", { id: "welcome-title", tabindex: "-1" }, t("welcome.title")),
    h("p", { class: "lead" }, t("welcome.body")),
    state.fromLink ? h("p", { class: "notice", role: "status" }, t("welcome.requestWaiting")) : null,
    h("div", { class: "segmented", role: "group", "aria-label": t("key.private") }, tabs.map((k) =>
      h("button", { type: "button", "aria-pressed": state.welcome === k ? "true" : "false",
        onclick: () => { state.welcome = k; render(); document.querySelector(".welcome form input")?.focus(); } },
        t(`welcome.${k}`)))),
    keyForm(state.welcome));
}

function keyForm(mode) {
  const error = h("div", { class: "form-error" });
  const keyIn = mode === "import"
    ? h("input", { type: "password", autocomplete: "off", spellcheck: "false", autocapitalize: "off", required: true,
      class: "mono" })
    : null;
  const pw1 = passwordInput("new-password");
  const pw2 = passwordInput("new-password");
  const submit = h("button", { type: "submit", class: "primary" }, t(mode === "import" ? "key.saveImport" : "key.saveCreate"));
  const form = h("form", { class: "card", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    error.replaceChildren();
    let key;
    try {
      key = mode === "import" ? keystore.normalisePrivateKey(keyIn.value) : keystore.newPrivateKey();
    } catch (exc) {
      error.append(alertBox(t(exc instanceof RangeError ? "err.keyFormat" : "err.keyInvalid")));
      keyIn.focus();
      return;
    }
    if (pw1.value.length < keystore.MIN_PASSWORD) {
      error.append(alertBox(t("err.passwordShort")));
      pw1.focus();
      return;
    }
    if (pw1.value !== pw2.value) {
      error.append(alertBox(t("err.passwordMismatch")));
      pw2.focus();
      return;
    }
    const done = busy(submit, t("key.busy"));
    try {
      state.record = await keystore.save(key, pw1.value);
    } catch (exc) {
      done();
      error.append(alertBox(errorText(exc)));
      return;
    }
    key = null;
    state.view = state.codeInput ? "pay" : "points";
    history.replaceState(null, "", `#/${state.view}`);
    announce(t(mode === "import" ? "key.imported" : "key.created"));
    state.notice = t(mode === "import" ? "key.imported" : "key.created");
    render();
    document.querySelector("main h1")?.focus();
    await refresh();
    if (state.codeInput && state.fromLink) openRequest(state.codeInput);
  } },
  h("p", { class: "muted" }, t(mode === "import" ? "welcome.importBody" : "welcome.createBody")),
  keyIn ? field("import-key", t("key.private"), keyIn, t("key.privateHint")) : null,
  keyIn ? revealToggle(keyIn) : null,
  field("new-password", t("key.password"), pw1, t("key.passwordHint")),
  field("new-password-2", t("key.password2"), pw2),
  error, submit);
  return form;
}

function revealToggle(input) {
  const b = h("button", { type: "button", class: "link", "aria-controls": "import-key", "aria-pressed": "false",
    onclick: () => {
      const showing = input.type === "text";
      input.type = showing ? "password" : "text";
      b.textContent = t(showing ? "key.show" : "key.hide");
      b.setAttribute("aria-pressed", showing ? "false" : "true");
    } }, t("key.show"));
  return b;
}

// ---- points: balances and history -------------------------------------------------------------------------------

function pointsView() {
  const b = state.balances;
  const notice = state.notice;
  state.notice = null;
  return h("section", { class: "points", "aria-labelledby": "points-title" },
    h("h1", { id: "points-title", tabindex: "-1", class: "visually-hidden-phone" }, t("points.title")),
    notice ? h("p", { class: "notice", role: "status" }, notice) : null,
    state.loadError ? alertBox(errorText(state.loadError)) : null,
    h("div", { class: "grid" },
      h("div", { class: "col" },
        h("div", { class: "card total" },
          h("p", { class: "label", id: "total-label" }, t("points.total")),
          h("p", { class: "big", "aria-labelledby": "total-label", "data-testid": "total-credits" },
            b ? t("points.credits", { n: fmt.credits(b.totalCredits) }) : "…"),
          h("div", { class: "row" },
            h("span", { class: "muted small" }, b ? t("points.asOf", { n: fmt.points(b.asOfBlock) }) : ""),
            h("button", { type: "button", class: "ghost small", onclick: async (e) => {
              const done = busy(e.currentTarget, "…");
              await refresh();
              done();
              announce(t("points.updated"));
            } }, t("points.refresh")))),
        h("h2", null, t("points.byProgram")),
        b && b.balances.length
          ? h("ul", { class: "schemes" }, b.balances.map(schemeCard))
          : h("p", { class: "card muted" }, b ? t("points.none") : "…")),
      h("div", { class: "col" },
        h("h2", null, t("history.title")),
        historyList(),
        state.historyMore ? h("button", { type: "button", class: "ghost wide", onclick: loadMoreHistory },
          t("history.more")) : null)));
}

function schemeCard(s) {
  const info = state.schemes.get(String(s.scheme));
  const status = info && info.status !== "active" ? t(info.status === "paused" ? "points.paused" : "points.retired") : null;
  return h("li", { class: `card scheme s${s.scheme}`, "data-scheme": String(s.scheme) },
    h("div", { class: "scheme-head" },
      h("span", { class: "dot", "aria-hidden": "true" }),
      h("h3", null, schemeName(s.scheme))),
    h("p", { class: "scheme-points", "data-testid": `points-${s.scheme}` }, t("points.points", { n: fmt.points(s.points) })),
    h("p", { class: "scheme-credits" }, t("points.credits", { n: fmt.credits(s.credits) })),
    h("p", { class: "muted small" }, t("points.rate", { r: fmt.rate(s.rate) })),
    status ? h("p", { class: "warn small" }, status) : null);
}

/** One sentence per ledger event: which program gave or took what, and why. */
function describe(item, byTx) {
  const program = schemeName(item.scheme);
  const n = fmt.points(item.amount);
  const sameTx = byTx.get(item.txHash) || [];
  const has = (kind) => sameTx.some((x) => x.kind === kind);
  let title;
  let plus = true;
  let why = null;
  switch (item.kind) {
    case "issued":
      title = t("history.issued", { program, n });
      if (item.reasonCode != null) why = reasonLabel(item.scheme, item.reasonCode);
      break;
    case "revoked":
      plus = false;
      title = t("history.revoked", { program, n });
      why = item.reasonCode ? reasonLabel(item.scheme, item.reasonCode) : t("history.correction");
      break;
    case "burned":
      plus = false;
      title = t(has("minted") ? "history.exchangedOut" : "history.spent", { program, n });
      break;
    case "minted":
      title = t(has("burned") ? "history.exchangedIn" : "history.refund", { program, n });
      break;
    case "moved_in":
      title = t("history.movedIn", { program, n });
      break;
    case "moved_out":
      plus = false;
      title = t("history.movedOut", { program, n });
      break;
    default:
      title = `${item.kind} ${n} · ${program}`;
  }
  return { title, plus, why };
}

function historyList() {
  if (!state.balances && !state.history.length) return h("p", { class: "muted" }, "…");
  if (!state.history.length) return h("p", { class: "card muted" }, t("history.empty"));
  const byTx = new Map();
  for (const item of state.history) {
    if (!byTx.has(item.txHash)) byTx.set(item.txHash, []);
    byTx.get(item.txHash).push(item);
  }
  return h("ol", { class: "history card" }, state.history.map((item) => {
    const d = describe(item, byTx);
    return h("li", { class: d.plus ? "plus" : "minus", "data-kind": item.kind },
      h("span", { class: `dot s${item.scheme}`, "aria-hidden": "true" }),
      h("div", { class: "what" },
        h("p", { class: "title" }, d.title),
        d.why ? h("p", { class: "why" }, t("history.reason", { label: d.why })) : null,
        h("p", { class: "muted small" },
          h("time", { datetime: new Date(item.blockTimestamp * 1000).toISOString(), title: t("history.block", { n: fmt.points(item.blockNumber) }) },
            fmt.dateTime(item.blockTimestamp)), " · ",
          t("history.balanceAfter", { n: fmt.points(item.balanceAfter) }))),
      h("span", { class: "amount", "aria-hidden": "true" }, `${d.plus ? "+" : "−"}${fmt.points(item.amount)}`));
  }));
}

// ---- pay: merchants' redemption requests ------------------------------------------------------------------------

/** "rrq_x", a wallet link "...?request=rrq_x" or the QR payload "citypoints:redeem?request=rrq_x&api=..." -> "rrq_x" */
export function requestIdFrom(text) {
  const s = String(text || "").trim();
  const m = s.match(/[?&]request=([A-Za-z0-9_-]+)/);
  const id = m ? m[1] : s;
  return /^rrq_[A-Za-z0-9_-]{4,80}$/.test(id) ? id : null;
}

async function openRequest(text) {
  state.payResult = null;
  state.requestError = null;
  const id = requestIdFrom(text);
  if (!id) {
    state.request = null;
    state.requestError = t("err.requestCode");
    renderPay();
    return;
  }
  try {
    const req = await api.request(id);
    state.request = req;
    state.requestError = statusProblem(req);
  } catch (exc) {
    state.request = null;
    state.requestError = errorText(exc);
  }
  if (state.view !== "pay") show("pay");
  else renderPay();
  const target = document.querySelector(".request-card h2") || document.querySelector(".pay .alert");
  if (target) {
    target.setAttribute("tabindex", "-1");
    target.focus();
  }
}

/** Why this request cannot be signed, or null. */
function statusProblem(req) {
  if (req.status === "approved") return t("err.used");
  if (req.status === "cancelled") return t("err.cancelled");
  if (req.status === "expired" || fmt.big(req.deadline) * 1000n <= BigInt(Date.now())) return t("err.expired");
  if (req.resident.toLowerCase() !== state.record.address.toLowerCase()) return t("err.otherResident");
  if (!consentMatches(req)) return t("err.mismatch");
  return null;
}

/** The EIP-712 document must say exactly what the summary shows, for this resident. */
function consentMatches(req) {
  const td = req.typedData || {};
  const m = td.message || {};
  const same = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();
  return td.primaryType === "RedemptionConsent" && td.domain && td.domain.name === "CityPoints" &&
    td.domain.version === "1" && same(m.resident, state.record.address) && same(m.merchant, req.merchant) &&
    fmt.big(m.credits) === fmt.big(req.credits) && same(m.orderRef, req.orderRef) && same(m.nonce, req.nonce) &&
    fmt.big(m.deadline) === fmt.big(req.deadline);
}

function payView() {
  return h("section", { class: "pay", "aria-labelledby": "pay-title" },
    h("h1", { id: "pay-title", tabindex: "-1" }, t("pay.title")),
    h("div", { id: "pay-body" }, payBody()));
}

function renderPay() {
  const body = document.getElementById("pay-body");
  if (body) body.replaceChildren(...payBody());
}

function payBody() {
  const out = [];
  if (state.payResult) out.push(h("div", { class: "card success", role: "status", "data-testid": "pay-result" },
    state.payResult));
  if (state.request && !state.requestError) out.push(requestCard(state.request));
  if (state.requestError) out.push(h("div", { class: "alert", role: "alert", "data-testid": "request-error" },
    h("p", null, state.requestError),
    state.request ? h("p", { class: "small refused" }, [t("points.credits", { n: fmt.credits(state.request.credits) }),
      merchantLabel(state.request), state.request.orderLabel || fmt.short(state.request.orderRef, 10, 6)].join(" · ")) : null));
  const input = h("input", { type: "text", value: state.codeInput, autocomplete: "off", spellcheck: "false",
    autocapitalize: "off", enterkeyhint: "go", class: "mono", oninput: (e) => { state.codeInput = e.target.value; } });
  out.push(h("form", { class: "card code-form", novalidate: true, onsubmit: (e) => { e.preventDefault(); openRequest(input.value); } },
    field("request-code", t("pay.codeLabel"), input, t("pay.codeHint")),
    h("button", { type: "submit", class: "secondary" }, t("pay.open"))));
  out.push(h("h2", null, t("pay.waiting")), h("div", { id: "waiting" }, waitingList()));
  return out;
}

function renderWaiting() {
  const box = document.getElementById("waiting");
  const signedIn = state.record && session.token(state.record.address);
  if (box && !(!signedIn && box.contains(loginBox))) box.replaceChildren(waitingList());
  const tabs = document.querySelector("nav.tabs");
  if (tabs) tabs.replaceWith(nav());
}

function waitingList() {
  if (!session.token(state.record.address)) return loginForm();
  const open = state.request && !state.requestError ? state.request.id : null;
  const waiting = state.waiting.filter((r) => r.id !== open);
  if (!waiting.length) return h("p", { class: "muted" }, t(open ? "pay.noOtherWaiting" : "pay.noWaiting"));
  return h("ul", { class: "waiting" }, waiting.map((r) => h("li", null,
    h("button", { type: "button", class: "card request-row", onclick: () => { state.codeInput = r.id; openRequest(r.id); } },
      h("strong", null, t("points.credits", { n: fmt.credits(r.credits) })),
      h("span", null, merchantLabel(r)),
      h("span", { class: "muted small" }, r.orderLabel || fmt.short(r.orderRef, 10, 6)),
      h("span", { class: "muted small" }, `${t("pay.expires")} ${fmt.time(r.deadline)}`)))));
}

function merchantLabel(req) {
  return req.merchantName ? `${req.merchantName} (${fmt.short(req.merchant)})` : fmt.short(req.merchant);
}

function leftText(seconds) {
  if (seconds <= 0) return t("pay.expired");
  if (seconds < 60) return t("time.sec", { s: seconds });
  if (seconds < 3600) return t("time.minSec", { m: Math.floor(seconds / 60), s: seconds % 60 });
  return t("time.hours", { h: Math.floor(seconds / 3600), m: Math.floor((seconds % 3600) / 60) });
}

function requestCard(req) {
  const m = req.typedData.message;
  const d = req.typedData.domain;
  const total = state.balances ? fmt.big(state.balances.totalCredits) : null;
  const need = fmt.big(m.credits);
  const enough = total == null || total >= need;
  const pw = passwordInput();
  const error = h("div", { class: "form-error" });
  const approve = h("button", { type: "submit", class: "primary", disabled: !enough, "data-testid": "approve" },
    t("pay.approve", { n: fmt.credits(need) }));
  const seconds = Number(fmt.big(m.deadline)) - Math.floor(Date.now() / 1000);
  const form = h("form", { class: "approve-form", novalidate: true, onsubmit: (e) => { e.preventDefault(); approveRequest(req, pw, approve, error); } },
    field("sign-password", t("pay.password"), pw),
    error,
    h("div", { class: "actions" }, approve,
      h("button", { type: "button", class: "ghost", onclick: () => { state.request = null; state.codeInput = ""; renderPay(); } },
        t("pay.dismiss"))));
  return h("article", { class: "card request-card", "aria-labelledby": "request-title", "data-testid": "request-card" },
    h("h2", { id: "request-title" }, t("pay.summaryTitle")),
    state.fromLink ? h("p", { class: "muted small" }, t("pay.openedFromLink")) : null,
    h("p", { class: "big", "data-testid": "request-amount" }, t("points.credits", { n: fmt.credits(need) })),
    h("dl", { class: "facts" },
      h("dt", null, t("pay.merchant")),
      h("dd", null, req.merchantName ? h("span", null, req.merchantName, h("br")) : null,
        h("span", { class: "mono break", "data-testid": "request-merchant" }, m.merchant)),
      h("dt", null, t("pay.order")),
      h("dd", { "data-testid": "request-order" }, req.orderLabel
        ? req.orderLabel : h("span", { class: "mono break" }, m.orderRef)),
      h("dt", null, t("pay.expires")),
      h("dd", { "data-testid": "request-expiry" }, h("span", { "data-deadline": String(m.deadline) },
        t("pay.expiresIn", { time: fmt.dateTime(m.deadline), left: leftText(seconds) })))),
    total != null ? h("p", { class: enough ? "muted" : "warn" }, enough
      ? t("pay.youHave", { n: fmt.credits(total), after: fmt.credits(total - need) })
      : t("pay.notEnough", { n: fmt.credits(total) })) : null,
    h("p", { class: "consent" }, t("pay.consent")),
    h("details", { class: "technical" },
      h("summary", null, t("pay.technical")),
      h("dl", { class: "facts mono small" },
        ...[["primaryType", req.typedData.primaryType], ["domain", `${d.name} v${d.version}`], ["chainId", d.chainId],
          ["verifyingContract", d.verifyingContract], ...Object.entries(m)]
          .flatMap(([k, v]) => [h("dt", null, k), h("dd", { class: "break" }, String(v))]))),
    form);
}

async function approveRequest(req, pw, button, error) {
  error.replaceChildren();
  if (fmt.big(req.deadline) * 1000n <= BigInt(Date.now())) {
    state.requestError = t("err.expired");
    renderPay();
    return;
  }
  const done = busy(button, t("pay.signing"));
  let wallet = await unlockOrExplain(pw, error, done);
  if (!wallet) return;
  try {
    const { EIP712Domain, ...types } = req.typedData.types;
    const signature = await wallet.signTypedData(req.typedData.domain, types, req.typedData.message);
    wallet = null;
    const res = await api.approve(req.id, signature);
    state.request = null;
    state.codeInput = "";
    state.fromLink = false;
    state.payResult = res.status === "confirmed"
      ? t("pay.done", { n: fmt.credits(res.credits), merchant: merchantLabel(req), b: fmt.points(res.blockNumber) })
      : t("pay.donePending");
    renderPay();
    announce(state.payResult);
    document.querySelector("[data-testid=pay-result]")?.setAttribute("tabindex", "-1");
    document.querySelector("[data-testid=pay-result]")?.focus();
    await refreshUntil(res.blockNumber);
  } catch (exc) {
    done();
    const text = errorText(exc);
    if (exc instanceof ApiError && ["consent_expired", "consent_already_used", "request_not_open",
      "request_not_found"].includes(exc.code)) {
      state.requestError = text;
      renderPay();
      document.querySelector(".pay .alert")?.focus();
    } else {
      error.append(alertBox(text));
    }
  }
}

// ---- exchange ------------------------------------------------------------------------------------------------------

function heldSchemes() {
  return (state.balances ? state.balances.balances : []).filter((s) => fmt.big(s.points) > 0n);
}

function targetSchemes(from) {
  return [...state.schemes.values()].filter((s) => s.status === "active" && String(s.scheme) !== String(from));
}

function exchangeView() {
  const held = heldSchemes();
  const ex = state.ex;
  if (!held.some((s) => String(s.scheme) === ex.from)) ex.from = held.length ? String(held[0].scheme) : "";
  const targets = targetSchemes(ex.from);
  if (!targets.some((s) => String(s.scheme) === ex.to)) ex.to = targets.length ? String(targets[0].scheme) : "";
  const result = state.exResult;
  state.exResult = null;
  if (!held.length) {
    return h("section", { class: "exchange", "aria-labelledby": "ex-title" },
      h("h1", { id: "ex-title", tabindex: "-1" }, t("ex.title")),
      result ? h("div", { class: "card success", role: "status", "data-testid": "exchange-result" }, result) : null,
      h("p", { class: "card muted" }, state.balances ? t("ex.nothing") : "…"));
  }
  const available = fmt.big(held.find((s) => String(s.scheme) === ex.from).points);
  const fromSel = h("select", { onchange: (e) => { ex.from = e.target.value; state.quote = null; render(); requestQuote(); } },
    held.map((s) => h("option", { value: String(s.scheme), selected: String(s.scheme) === ex.from },
      `${schemeName(s.scheme)} (${fmt.points(s.points)})`)));
  const toSel = h("select", { onchange: (e) => { ex.to = e.target.value; state.quote = null; requestQuote(); } },
    targets.map((s) => h("option", { value: String(s.scheme), selected: String(s.scheme) === ex.to }, schemeName(s.scheme))));
  const amount = h("input", { type: "text", inputmode: "numeric", pattern: "[0-9]*", value: ex.points,
    autocomplete: "off", class: "num", oninput: (e) => { ex.points = e.target.value; requestQuote(); } });
  const all = h("button", { type: "button", class: "ghost small", onclick: () => {
    ex.points = available.toString();
    amount.value = ex.points;
    requestQuote();
  } }, t("ex.all"));
  const slip = h("fieldset", { class: "slippage" }, h("legend", null, t("ex.slippage")),
    h("div", { class: "chips" }, SLIPPAGES.map((bps) => h("label", { class: "chip" },
      h("input", { type: "radio", name: "slippage", value: String(bps), checked: ex.slippage === bps,
        onchange: () => { ex.slippage = bps; requestQuote(); } }),
      h("span", null, `${(bps / 100).toLocaleString(lang() === "zh" ? "zh-CN" : "en-GB")}%`)))));
  const pw = passwordInput();
  const error = h("div", { class: "form-error" });
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "exchange-submit" }, t("ex.submit"));
  return h("section", { class: "exchange", "aria-labelledby": "ex-title" },
    h("h1", { id: "ex-title", tabindex: "-1" }, t("ex.title")),
    result ? h("div", { class: "card success", role: "status", "data-testid": "exchange-result" }, result) : null,
    h("p", { class: "muted" }, t("ex.intro")),
    h("form", { class: "card exchange-form", novalidate: true,
      onsubmit: (e) => { e.preventDefault(); submitExchange(pw, submit, error); } },
    h("div", { class: "pair" },
      field("ex-from", t("ex.from"), fromSel),
      h("span", { class: "arrow", "aria-hidden": "true" }, "→"),
      field("ex-to", t("ex.to"), toSel)),
    h("div", { class: "field" },
      h("label", { for: "ex-points" }, t("ex.points")),
      h("div", { class: "inline" }, Object.assign(amount, { id: "ex-points" }), all),
      h("p", { class: "hint", id: "ex-points-hint" }, t("ex.available", { n: fmt.points(available) }))),
    slip,
    h("div", { class: "quote", id: "quote", "aria-live": "polite", "data-testid": "quote" }, quoteBody()),
    field("ex-password", t("ex.password"), pw),
    error,
    submit));
}

function quoteBody() {
  if (state.quoteError) return alertBox(state.quoteError);
  const q = state.quote;
  if (!q) return state.quoteSeq && state.ex.points ? h("p", { class: "muted" }, t("ex.quoting")) : null;
  const program = schemeName(q.toScheme);
  return [
    h("p", { class: "quote-main", "data-testid": "quote-received" },
      t("ex.quote", { n: fmt.points(q.received), program, c: fmt.credits(q.credits) })),
    h("p", { class: "muted small", "data-testid": "quote-min" }, t("ex.min", { n: fmt.points(q.minReceived) })),
  ];
}

function renderQuote() {
  const box = document.getElementById("quote");
  if (box) box.replaceChildren(...[quoteBody()].flat().filter(Boolean));
}

/** Checks the form; returns {fromScheme, toScheme, points} or an error text. */
function exchangeInput() {
  const ex = state.ex;
  const points = fmt.parseWhole(ex.points);
  if (points == null || points === 0n) return { error: ex.points.trim() ? t("ex.wholePoints") : null };
  if (!ex.from || !ex.to || ex.from === ex.to) return { error: t("ex.same") };
  const held = heldSchemes().find((s) => String(s.scheme) === ex.from);
  if (!held || points > fmt.big(held.points)) return { error: t("ex.tooMany", { n: fmt.points(held ? held.points : 0) }) };
  return { fromScheme: fmt.big(ex.from), toScheme: fmt.big(ex.to), points };
}

let quoteTimer = null;

function requestQuote() {
  clearTimeout(quoteTimer);
  const seq = ++state.quoteSeq;
  state.quote = null;
  state.quoteError = null;
  const input = exchangeInput();
  if (input.error || !input.points) {
    state.quoteError = input.error || null;
    renderQuote();
    return;
  }
  renderQuote();
  quoteTimer = setTimeout(async () => {
    try {
      const q = await api.quote({ resident: state.record.address, fromScheme: input.fromScheme,
        toScheme: input.toScheme, points: input.points, slippage: state.ex.slippage });
      if (seq !== state.quoteSeq) return;
      state.quote = q;
      state.quoteAt = Date.now();
    } catch (exc) {
      if (seq !== state.quoteSeq) return;
      state.quoteError = errorText(exc);
    }
    renderQuote();
  }, 250);
}

function intentMatches(q, input) {
  const td = q.typedData || {};
  const m = td.message || {};
  return td.primaryType === "ExchangeIntent" && td.domain && td.domain.name === "CityPoints" &&
    td.domain.version === "1" && String(m.resident).toLowerCase() === state.record.address.toLowerCase() &&
    fmt.big(m.fromScheme) === input.fromScheme && fmt.big(m.toScheme) === input.toScheme &&
    fmt.big(m.points) === input.points && fmt.big(m.minReceived) === fmt.big(q.minReceived) &&
    fmt.big(m.deadline) * 1000n > BigInt(Date.now());
}

async function submitExchange(pw, button, error) {
  error.replaceChildren();
  const input = exchangeInput();
  const q = state.quote;
  if (input.error || !input.points) {
    error.append(alertBox(input.error || t("ex.wholePoints")));
    return;
  }
  if (!q || Date.now() - state.quoteAt > QUOTE_MAX_AGE_MS || !intentMatches(q, input)) {
    requestQuote(); // show a fresh quote; the resident signs what they have seen
    return;
  }
  const done = busy(button, t("ex.signing"));
  let wallet = await unlockOrExplain(pw, error, done);
  if (!wallet) return;
  try {
    const { EIP712Domain, ...types } = q.typedData.types;
    const m = q.typedData.message;
    const signature = await wallet.signTypedData(q.typedData.domain, types, m);
    wallet = null;
    const res = await api.exchange({ resident: m.resident, fromScheme: m.fromScheme, toScheme: m.toScheme,
      points: m.points, minReceived: m.minReceived, nonce: m.nonce, deadline: m.deadline, signature });
    state.exResult = res.status === "confirmed"
      ? t("ex.done", { p: fmt.points(res.points), from: schemeName(res.fromScheme), r: fmt.points(res.received),
        to: schemeName(res.toScheme) })
      : t("ex.donePending");
    announce(state.exResult);
    state.ex.points = "";
    state.quote = null;
    state.quoteSeq = 0;
    await refreshUntil(res.blockNumber);
    document.querySelector("[data-testid=exchange-result]")?.setAttribute("tabindex", "-1");
    document.querySelector("[data-testid=exchange-result]")?.focus();
  } catch (exc) {
    done();
    error.append(alertBox(errorText(exc)));
    if (exc instanceof ApiError && exc.code === "below_minimum") requestQuote();
  }
}

// ---- my code ------------------------------------------------------------------------------------------------------

function receiveView() {
  const a = state.record.address;
  const status = h("p", { class: "muted small", role: "status" });
  return h("section", { class: "receive", "aria-labelledby": "recv-title" },
    h("h1", { id: "recv-title", tabindex: "-1" }, t("recv.title")),
    h("div", { class: "card qr-card" },
      h("div", { class: "qr", id: "qr", role: "img", "aria-label": t("recv.qrLabel", { a }) }),
      h("p", { class: "label" }, t("recv.address")),
      h("p", { class: "mono address", "data-testid": "address" }, a.slice(0, 2), a.slice(2).match(/.{1,4}/g).map(
        (g) => h("span", null, g))),
      h("button", { type: "button", class: "secondary", onclick: async () => {
        try {
          await navigator.clipboard.writeText(a);
        } catch {
          const range = document.createRange();
          range.selectNodeContents(document.querySelector("[data-testid=address]"));
          getSelection().removeAllRanges();
          getSelection().addRange(range);
          document.execCommand && document.execCommand("copy");
        }
        status.textContent = t("recv.copied");
      } }, t("recv.copy")),
      status),
    h("p", { class: "muted" }, t("recv.body")));
}

async function drawQr() {
  const box = document.getElementById("qr");
  if (!box) return;
  const svg = await QRCode.toString(state.record.address, { type: "svg", errorCorrectionLevel: "M", margin: 2,
    color: { dark: "#10231fff", light: "#ffffffff" } });
  const doc = new DOMParser().parseFromString(svg, "image/svg+xml").documentElement;
  doc.setAttribute("aria-hidden", "true");
  doc.setAttribute("focusable", "false");
  box.replaceChildren(document.importNode(doc, true));
}

// ---- key and settings ------------------------------------------------------------------------------------------------

function settingsView() {
  const a = state.record.address;
  const revealPw = passwordInput();
  const revealErr = h("div", { class: "form-error" });
  const revealBtn = h("button", { type: "submit", class: "secondary" }, t("set.reveal"));
  const confirm = h("input", { type: "checkbox", id: "remove-confirm" });
  const removeErr = h("div", { class: "form-error" });
  return h("section", { class: "settings", "aria-labelledby": "set-title" },
    h("h1", { id: "set-title", tabindex: "-1" }, t("set.title")),
    h("div", { class: "card" },
      h("p", { class: "label" }, t("set.address")),
      h("p", { class: "mono break" }, a),
      h("p", { class: "muted small" }, t("set.storage", { iter: state.record.kdf.iterations.toLocaleString() }))),
    h("div", { class: "card" },
      h("h2", { id: "lang-title" }, t("set.language")),
      h("div", { class: "segmented", role: "group", "aria-labelledby": "lang-title" },
        [["en", "English"], ["zh", "中文"]].map(([code, name]) => h("button", { type: "button",
          lang: code === "zh" ? "zh-CN" : "en", "aria-pressed": lang() === code ? "true" : "false",
          onclick: () => { setLang(code); localStorage.setItem(LANG_STORE, code); render(); } }, name)))),
    h("form", { class: "card", novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      revealErr.replaceChildren();
      const done = busy(revealBtn, "…");
      try {
        const w = await keystore.unlock(state.record, revealPw.value);
        state.revealed = w.privateKey;
        revealPw.value = "";
        done();
        document.getElementById("revealed").replaceChildren(h("p", { class: "mono break secret" }, state.revealed),
          h("button", { type: "button", class: "ghost small", onclick: () => {
            state.revealed = null;
            document.getElementById("revealed").replaceChildren();
          } }, t("key.hide")));
      } catch (exc) {
        done();
        revealErr.append(alertBox(errorText(exc)));
      }
    } },
    h("h2", null, t("set.backup")),
    h("p", { class: "muted" }, t("set.backupBody")),
    field("reveal-password", t("key.password"), revealPw),
    revealErr, revealBtn,
    h("div", { id: "revealed", "aria-live": "polite" })),
    h("form", { class: "card danger", novalidate: true, onsubmit: (e) => {
      e.preventDefault();
      removeErr.replaceChildren();
      if (!confirm.checked) {
        removeErr.append(alertBox(t("set.removeTick")));
        confirm.focus();
        return;
      }
      keystore.remove();
      session.clear();
      loginBox = null;
      Object.assign(state, { record: null, balances: null, history: [], waiting: [], request: null, revealed: null,
        view: "points" });
      history.replaceState(null, "", location.pathname);
      render();
      announce(t("set.removed"));
    } },
    h("h2", null, t("set.remove")),
    h("p", { class: "muted" }, t("set.removeBody")),
    h("div", { class: "check" }, confirm, h("label", { for: "remove-confirm" }, t("set.removeConfirm"))),
    removeErr,
    h("button", { type: "submit", class: "danger" }, t("set.removeButton"))));
}

// ---- every second: expiry countdowns -----------------------------------------------------------------------------

function tick() {
  const now = Math.floor(Date.now() / 1000);
  for (const el of document.querySelectorAll("[data-deadline]")) {
    const deadline = Number(el.getAttribute("data-deadline"));
    el.textContent = t("pay.expiresIn", { time: fmt.dateTime(deadline), left: leftText(deadline - now) });
    if (deadline <= now && state.request && !state.requestError) {
      state.requestError = t("err.expired");
      renderPay();
      announce(state.requestError);
    }
  }
}

start();

// Decrypt the key with the typed password; on failure explain why, end the busy state and return null.
async function unlockOrExplain(pw, error, done) {
  try {
    return await keystore.unlock(state.record, pw.value);
  } catch (exc) {
    done();
    error.append(alertBox(errorText(exc)));
    pw.select();
    pw.focus();
    return null;
  }
}
