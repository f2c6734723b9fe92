// The merchants' point-of-sale page (/pos): sign in with the shop's API key (exchanged for an HttpOnly session
// cookie; the page never keeps the key), take a sale (the request's QR code full screen, its status live from the
// API's server-sent events, then the receipt), see and cancel open requests, list today's sales and refund them.
// What it offers follows the key's scope: a cashier's key takes sales; a manager's also refunds, reads statements
// and webhooks and manages the shop's keys. A shop without a key applies here and claims its first key by its link.
// It talks to the API on its own origin only; words, number formats and the API client are the wallet's.
import { t, lang, addWords, setSchemeProfiles } from "../../wallet/src/i18n.js";
import { api } from "../../wallet/src/api.js";
import { h, announce, redraw } from "../../wallet/src/dom.js";
import * as fmt from "../../wallet/src/format.js";
import { WORDS } from "./words.js";
import { pos } from "./api.js";
import { state, startLang, chooseLang, isManager } from "./state.js";
import { signInView } from "./views/signin.js";
import { saleFormView, saleScreen, drawQr } from "./views/sale.js";
import { openView, todayView } from "./views/lists.js";
import { statementView, statementCsv } from "./views/statement.js";
import { webhooksView } from "./views/webhooks.js";
import { vouchersView, voucherCode } from "./views/vouchers.js";
import { keysView } from "./views/keys.js";
import { applyView, claimView } from "./views/apply.js";
import { merchantName } from "./views/common.js";

const FINAL = ["paid", "failed", "cancelled", "expired"];
const VIEWS = { sale: saleFormView, open: openView, today: todayView, vouchers: vouchersView,
  statement: statementView, webhooks: webhooksView, keys: keysView };
const MANAGERS = ["statement", "webhooks", "keys"]; // views a cashier's key is not offered (the API refuses them too)
const STATEMENT_PAGES = 100; // at most 10,000 sales in one statement (100 a page)
let stream = null; // the EventSource of the sale on screen

function start() {
  const params = new URLSearchParams(location.search);
  startLang(params.get("lang"));
  state.view = viewOf(location.hash);
  // a voucher's QR code is a link to this page naming it: the Vouchers view opens with it looked up
  const scanned = voucherCode(params.get("voucher"));
  if (scanned) {
    state.view = "vouchers";
    state.voucherInput = scanned;
  }
  state.claim = claimOf(location.hash);
  window.addEventListener("hashchange", () => {
    state.view = viewOf(location.hash);
    state.claim = claimOf(location.hash) || (state.claim && state.claim.key ? state.claim : null);
    state.error = null;
    render();
    loadView();
  });
  render();
  // programme names for receipts come from the registry (/v1/schemes), as in the wallet; a failure leaves numbers
  api.schemes().then(setSchemeProfiles, () => {}).finally(render);
  pos.session().then((s) => { state.session = s; }, () => { state.session = null; }).finally(() => {
    state.checked = true;
    render();
    loadView();
  });
}

function viewOf(hash) {
  const view = hash.replace(/^#/, "");
  return ["open", "today", "vouchers", ...MANAGERS].includes(view) ? view : "sale";
}

/** An application's claim link: #claim/<application id>/<secret> (in the fragment, so never sent to a server). */
function claimOf(hash) {
  const m = /^#claim\/(app_[0-9a-f]{1,36})\/([A-Za-z0-9_-]{20,100})$/.exec(hash);
  return m ? { id: m[1], secret: m[2], key: null } : null;
}

/** The view to show: one the key's scope is not offered falls back to a new sale. */
function shown() {
  return MANAGERS.includes(state.view) && !isManager() ? "sale" : state.view;
}

/** A failure of the session (signed out elsewhere, expired, key revoked): back to the sign-in form. */
function ended(exc) {
  if (exc && exc.status === 401 && state.session) {
    state.session = null;
    closeStream();
    state.sale = null;
  }
  state.error = exc;
}

async function run(busy, work) {
  state.busy = busy;
  state.error = null;
  render();
  try {
    await work();
  } catch (exc) {
    ended(exc);
  }
  state.busy = null;
  render();
}

function loadView() {
  if (!state.session) return;
  const view = shown();
  if (view === "open") actions.loadOpen();
  if (view === "today") actions.loadToday();
  if (view === "webhooks") actions.loadWebhooks();
  if (view === "keys") actions.loadKeys();
  if (view === "vouchers" && state.voucherInput && !state.voucher) {
    const code = voucherCode(state.voucherInput);
    if (code) actions.findVoucher(code);
  }
}

function closeStream() {
  if (stream) stream.close();
  stream = null;
}

function follow(id) {
  closeStream();
  const source = pos.follow(id);
  stream = source;
  source.addEventListener("status", (e) => {
    if (stream !== source || !state.sale || state.sale.id !== id) return;
    const progress = JSON.parse(e.data);
    state.sale.progress = progress;
    if (FINAL.includes(progress.status)) {
      closeStream(); // the server ends the stream here; without this the browser would open it again
      announce(t(`pos.status.${progress.status}`));
    }
    render();
  });
  // a dropped connection: EventSource opens it again by itself (the server's `retry`); a refused one (401, the
  // session ended) closes it, and the page asks the session again
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED && stream === source) {
      stream = null;
      pos.session().catch((exc) => { ended(exc); render(); });
    }
  });
}

const actions = {
  async signIn(apiKey) {
    state.notice = null;
    await run("signin", async () => {
      state.session = await pos.signIn(apiKey);
      loadView();
    });
  },
  async signOut() {
    closeStream();
    try {
      await pos.signOut();
    } catch { /* signed out all the same: the session is of no use to this page any more */ }
    Object.assign(state, { session: null, sale: null, open: null, today: null, error: null, refunding: null,
      voucher: null, voucherInput: "",
      refundResult: {}, statement: null, webhooks: null, redelivered: {}, notice: "pos.signedOut", keys: null,
      shownKey: null, rotating: null, revoking: null });
    render();
  },
  fail(key, input, vars) {
    state.error = { key, vars };
    render();
    const again = input && input.id && document.getElementById(input.id);
    if (again) again.focus();
  },
  async ask(resident, credits, label) {
    await run("ask", async () => {
      const req = await pos.ask(resident, credits, label);
      state.sale = { ...req, progress: null };
      follow(req.id);
    });
  },
  show(req) {
    state.error = null;
    state.sale = { ...req, progress: null };
    follow(req.id);
    render();
  },
  async cancel(id) {
    await run(`cancel:${id}`, async () => {
      await pos.cancel(id);
      if (state.sale && state.sale.id === id && !state.sale.progress) state.sale.progress = { status: "cancelled" };
      if (state.open) state.open.data = state.open.data.filter((r) => r.id !== id);
    });
  },
  newSale() {
    closeStream();
    state.sale = null;
    state.error = null;
    if (state.view !== "sale") location.hash = "#sale";
    render();
    document.getElementById("customer")?.focus();
  },
  async loadOpen() {
    await run("load", async () => {
      state.open = await pos.requests("open");
    });
  },
  async loadToday() {
    await run("load", async () => {
      const midnight = new Date();
      midnight.setHours(0, 0, 0, 0);
      state.today = { sales: (await pos.sales({ created_from: midnight.toISOString() })).data };
    });
  },
  async statement(from, to) {
    await run("statement", async () => {
      // local days: from the first day's midnight to the midnight after the last
      const since = new Date(`${from}T00:00:00`);
      const until = new Date(`${to}T00:00:00`);
      until.setDate(until.getDate() + 1);
      const rows = [];
      let after = null;
      for (let n = 0; n < STATEMENT_PAGES; n++) {
        const params = { status: "confirmed", created_from: since.toISOString(), created_to: until.toISOString() };
        if (after) params.starting_after = after;
        const got = await pos.sales(params);
        rows.push(...got.data);
        if (!got.has_more || !got.data.length) break;
        after = got.data[got.data.length - 1].id;
      }
      state.statement = { from, to, rows, csv: statementCsv(rows) };
    });
  },
  async loadWebhooks() {
    await run("load", async () => {
      const endpoints = (await pos.webhooks()).data;
      const logs = await Promise.all(endpoints.map((e) => pos.deliveries(e.id)));
      state.webhooks = endpoints.map((e, i) => ({ ...e, deliveries: logs[i].data }));
    });
  },
  async redeliver(endpointId, deliveryId) {
    await run(`redeliver:${deliveryId}`, async () => {
      await pos.redeliver(endpointId, deliveryId);
      state.redelivered[deliveryId] = true;
      announce(t("pos.hook.queued"));
    });
  },
  async findVoucher(code) {
    state.voucherInput = code;
    await run("voucher", async () => {
      state.voucher = null;
      state.checkedOff = null;
      state.confirmRefund = null;
      const found = await pos.voucherByCode(code);
      state.voucher = found.data[0] || false;
    });
    announce(document.querySelector("[data-testid=voucher-status], [data-testid=voucher-none]")?.textContent || "");
  },
  async checkOff(id) {
    await run(`voucher:${id}`, async () => {
      try {
        state.voucher = await pos.checkOff(id);
        state.checkedOff = id;
      } catch (exc) {
        // used already (another till, a second scan): show when, from the voucher as it is now
        if (exc.code === "voucher_already_used" || exc.code === "voucher_refunded") state.voucher = await pos.voucher(id);
        throw exc;
      }
    });
    announce(document.querySelector("[data-testid=voucher-checked-off], [data-testid=voucher-error]")?.textContent || "");
  },
  askRefundVoucher(id) {
    state.confirmRefund = id;
    state.error = null;
    render();
    document.querySelector(id ? "[data-testid=voucher-refund-do]" : "[data-testid=voucher-refund]")?.focus();
  },
  async refundVoucher(id) {
    await run(`voucher:${id}`, async () => {
      state.confirmRefund = null;
      const res = await pos.refundVoucher(id);
      const { refund, ...voucher } = res;
      state.voucher = voucher;
    });
    announce(document.querySelector("[data-testid=voucher-status]")?.textContent || "");
  },
  openRefund(id) {
    state.refunding = id;
    state.error = null;
    render();
  },
  closeRefund() {
    state.refunding = null;
    state.error = null;
    render();
  },
  async loadKeys() {
    await run("load", async () => {
      state.keys = (await pos.keys()).data;
    });
  },
  async createKey(name, scope) {
    await run("key", async () => {
      state.shownKey = await pos.createKey(name, scope);
      announce(t("pos.keyMade", { name }));
      state.keys = (await pos.keys()).data;
    });
  },
  keyCopied() {
    state.shownKey = null;
    render();
  },
  openRotate(id) {
    Object.assign(state, { rotating: id, revoking: null, error: null });
    render();
  },
  closeRotate() {
    state.rotating = null;
    render();
  },
  async rotateKey(id, graceSeconds) {
    await run(`rotate:${id}`, async () => {
      state.shownKey = await pos.rotateKey(id, graceSeconds);
      state.rotating = null;
      announce(t("pos.keyRotated", { name: state.shownKey.name }));
      state.keys = (await pos.keys()).data;
    });
  },
  async revokeKey(id) {
    if (state.revoking !== id) { // the first click asks; the second revokes
      Object.assign(state, { revoking: id, rotating: null, error: null });
      render();
      return;
    }
    await run(`revoke:${id}`, async () => {
      state.revoking = null;
      await pos.revokeKey(id);
      announce(t("pos.keyStatus.revoked"));
      state.keys = (await pos.keys()).data;
    });
  },
  openApply() {
    Object.assign(state, { applying: true, applied: null, error: null, notice: null });
    render();
    if (!state.vocabulary) {
      api.catalogueVocabulary().then((v) => { state.vocabulary = v; render(); }, (exc) => { state.error = exc; render(); });
    }
    document.getElementById("apply-title")?.focus();
  },
  closeApply() {
    Object.assign(state, { applying: false, applied: null, error: null });
    render();
  },
  async apply(application) {
    await run("apply", async () => {
      state.applied = await pos.apply(application);
      announce(t("pos.app.received"));
    });
  },
  async claim() {
    await run("claim", async () => {
      const got = await pos.claim(state.claim.id, state.claim.secret);
      state.claim = { id: state.claim.id, key: got };
      announce(t("pos.claim.done"));
    });
  },
  closeClaim() {
    state.claim = null;
    history.replaceState(null, "", location.pathname + location.search); // the link's secret leaves the address bar
    render();
  },
  async refund(id, cents) {
    await run(`refund:${id}`, async () => {
      const res = await pos.refund(id, cents);
      state.refundResult[id] = res.status === "confirmed" ? t("pos.refundDone", { n: fmt.credits(res.credits) })
        : t("pos.refundPending");
      state.refunding = null;
      announce(state.refundResult[id]);
      const sales = await pos.sales({});
      const fresh = new Map(sales.data.map((s) => [s.id, s]));
      state.today.sales = state.today.sales.map((s) => fresh.get(s.id) || s);
    });
  },
};

function render() {
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  document.title = `${t("app.name")} · ${t("pos.name")}`;
  const app = document.getElementById("app");
  if (!state.checked) return;
  let body;
  if (state.claim) body = claimView(actions);
  else if (!state.session) body = state.applying ? applyView(actions) : signInView(actions);
  else if (state.sale) body = saleScreen(actions);
  else body = [nav(), (VIEWS[shown()] || saleFormView)(actions)];
  const main = h("main", { id: "main", tabindex: "-1" }, body);
  // what is being typed survives: the programme names landing after the sign-in form once emptied the API key field
  redraw(app, h("a", { class: "skip", href: "#main", onclick: (e) => { e.preventDefault(); main.focus(); } }, t("skip")),
    header(), main);
  drawQr();
}

function nav() {
  const view = shown();
  const tab = (name, key) => h("a", { href: `#${name}`, class: view === name ? "view-tab current" : "view-tab",
    "aria-current": view === name ? "page" : null, "data-testid": `tab-${name}` }, t(key));
  return h("nav", { class: "view-tabs", "aria-label": t("pos.views") },
    tab("sale", "pos.tab.sale"), tab("open", "pos.tab.open"), tab("today", "pos.tab.today"),
    tab("vouchers", "pos.tab.vouchers"),
    isManager() ? [tab("statement", "pos.tab.statement"), tab("webhooks", "pos.tab.webhooks"),
      tab("keys", "pos.tab.keys")] : null);
}

function header() {
  return h("header", { class: state.session ? "top signed" : "top" },
    h("div", { class: "brand" },
      h("span", { class: "logo", "aria-hidden": "true" }, "CP"),
      h("span", { class: "brand-text" }, h("strong", null, t("app.name")), " ", h("span", null, t("pos.name")))),
    state.session ? h("span", { class: "who-name", "data-testid": "merchant-name" },
      merchantName(state.session.merchant)) : null,
    state.session && state.session.key ? h("span", { class: "scope-badge", "data-testid": "key-scope" },
      t(`pos.scope.${state.session.key.scope}`)) : null,
    h("button", { type: "button", class: "lang", id: "lang", lang: lang() === "zh" ? "en" : "zh-CN",
      "aria-label": t("lang.otherLabel"), onclick: () => {
        chooseLang(lang() === "zh" ? "en" : "zh");
        render();
      } }, t("lang.other")),
    state.session ? h("button", { type: "button", class: "lang", "data-testid": "sign-out", onclick: actions.signOut },
      t("pos.signOut")) : null);
}

// last, once `actions` above is initialised (as the console: a top-level const is hoisted as undefined)
addWords(WORDS);
start();
