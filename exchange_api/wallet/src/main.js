// The resident's wallet: balances and history, the address as a QR code, approving merchants' payment requests
// (EIP-712 RedemptionConsent) and exchanging between programs (EIP-712 ExchangeIntent). It talks only to the
// API on its own origin; the private key stays in this browser, encrypted (keystore.js).
// This entry starts the page, routes between the views (views/*.js) and redraws them from state.js.
import { t, lang } from "./i18n.js";
import * as fmt from "./format.js";
import { api } from "./api.js";
import { state, page, VIEWS, load, loadWaiting, startLang } from "./state.js";
import { h } from "./ui.js";
import { header, nav } from "./views/frame.js";
import { welcomeView } from "./views/welcome.js";
import { pointsView } from "./views/points.js";
import { payView, openRequest, renderWaiting, tickCountdowns, closeScanner } from "./views/pay.js";
import { exchangeView, requestQuote } from "./views/exchange.js";
import { receiveView, drawQr } from "./views/receive.js";
import { settingsView } from "./views/settings.js";
import { shopsView } from "./views/shops.js";
import { loadVouchers } from "./views/vouchers.js";
import { loadRecovery, recoveryBanner, tickRecovery } from "./views/recovery.js";

export { requestIdFrom } from "./views/pay.js";

const VIEW_OF = { points: pointsView, pay: payView, shops: shopsView, exchange: exchangeView, receive: receiveView,
  settings: settingsView };

start();

function start() {
  Object.assign(page, { render, show, refresh, refreshUntil });
  const params = new URLSearchParams(location.search);
  startLang(params.get("lang"));
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
  setInterval(() => { tickCountdowns(); tickRecovery(); }, 1000);
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
  if (view === "shops" && state.record) loadVouchers(); // a till may have checked one off since
  if (view === "exchange") requestQuote();
}

function render() {
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  document.title = `${t("app.name")} · ${t("app.wallet")}`;
  const app = document.getElementById("app");
  if (state.view !== "pay" || !state.record) closeScanner();  // a camera left open off its view would run unseen
  const main = h("main", { id: "main", tabindex: "-1" });
  main.append(...[state.record ? recoveryBanner() : null, state.record ? VIEW_OF[state.view]() : welcomeView()]
    .filter(Boolean));
  app.replaceChildren(...[
    h("a", { class: "skip", href: "#main", onclick: (e) => { e.preventDefault(); main.focus(); } }, t("skip")),
    header(),
    state.record ? nav() : null,
    main,
  ].filter(Boolean));
  if (state.view === "receive" && state.record) drawQr();
}

async function refresh({ quiet = false } = {}) {
  if (!state.record) return;
  const [changed, recoveryChanged] = await Promise.all([load(), loadRecovery()]);
  if (quiet && !recoveryChanged && (state.view !== "points" || !changed)) {
    renderWaiting(); // never re-render a form the resident may be typing in, nor an unchanged page
    return;
  }
  render();
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
