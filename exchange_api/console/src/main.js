// The consortium's console: the city at a glance for the points office, the programmes, the clearing bank and the
// auditor, and the governance queue. It reads the API's public endpoints (and the statements with an auditor API
// key typed into this tab) on its own origin; the one thing it signs is a member's approval of a proposal, with a
// member key kept encrypted in this browser (approval.js). Words, number formats and the API client are the
// wallet's.
import { t, lang, addWords } from "../../wallet/src/i18n.js";
import { h, announce, redraw } from "../../wallet/src/dom.js";
import { WORDS } from "./words.js";
import { state, startLang, chooseLang, load, loadStatements, loadGovernance, loadApplications } from "./state.js";
import { healthView, schemesView, clearingView, dailyView, auditView, merchantsView, objectionsView, holdingsView }
  from "./views/glance.js";
import { governanceView } from "./views/governance.js";
import { applicationsView } from "./views/applications.js";
import { memberKey, signApproval } from "./approval.js";
import { api } from "../../wallet/src/api.js";

const REFRESH_MS = 15_000;

function start() {
  startLang(new URLSearchParams(location.search).get("lang"));
  state.view = location.hash === "#governance" ? "governance" : "glance";
  window.addEventListener("hashchange", () => {
    state.view = location.hash === "#governance" ? "governance" : "glance";
    render();
  });
  render();
  refresh();
  setInterval(() => {
    if (!document.hidden) refresh();
  }, REFRESH_MS);
}

async function refresh() {
  await load();
  render();
}

const actions = {
  refresh,
  async showStatements(key) {
    state.auditorKey = key;
    await Promise.all([loadStatements(), loadApplications()]);
    render();
  },
  async importKey(privateKey, password) {
    const g = state.gov;
    g.keyError = null;
    g.busy = "key";
    render();
    try {
      g.record = await memberKey.save(privateKey, password);
    } catch (exc) {
      g.keyError = exc;
    }
    g.busy = null;
    render();
  },
  forgetKey() {
    memberKey.remove();
    state.gov.record = null;
    render();
  },
  async approve(id, password) {
    const g = state.gov;
    const proposal = g.listing && g.listing.data.find((p) => p.id === id);
    if (!proposal || !g.record) return;
    g.busy = id;
    delete g.errors[id];
    delete g.results[id];
    render();
    try {
      const body = await signApproval(g.record, password, g.listing, proposal);
      const res = await api.approveProposal(id, body);
      const shown = res.proposal || proposal;
      g.results[id] = t(res.status === "pending" ? "gov.approvedPending" : "gov.approvedNow",
        { n: shown.approvals, m: shown.required });
      await loadGovernance();
    } catch (exc) {
      g.errors[id] = exc;
    }
    g.busy = null;
    render();
    if (g.results[id]) announce(g.results[id]);
  },
};

function render() {
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  document.title = `${t("app.name")} · ${t("console.name")}`;
  const main = h("main", { id: "main", tabindex: "-1" },
    h("div", { class: "row heading" },
      h("h1", null, t("console.title")),
      h("button", { type: "button", class: "ghost small", onclick: refresh }, t("console.refresh"))),
    nav(),
    state.view === "governance" ? [applicationsView(actions), governanceView(actions)]
      : [h("p", { class: "muted small" }, t("console.readOnly")),
        h("div", { class: "glance" }, healthView(), schemesView(), dailyView(), auditView(), merchantsView(),
          holdingsView(), objectionsView(), clearingView(actions))]);
  redraw(document.getElementById("app"),  // every 15 s: what is being typed survives
    h("a", { class: "skip", href: "#main", onclick: (e) => { e.preventDefault(); main.focus(); } }, t("skip")),
    header(),
    main);
}

function nav() {
  const tab = (view, href, key) => h("a", { href, class: state.view === view ? "view-tab current" : "view-tab",
    "aria-current": state.view === view ? "page" : null, "data-testid": `tab-${view}` }, t(key));
  return h("nav", { class: "view-tabs", "aria-label": t("console.views") },
    tab("glance", "#", "console.glance"), tab("governance", "#governance", "gov.title"));
}

function header() {
  return h("header", { class: "top" },
    h("div", { class: "brand" },
      h("span", { class: "logo", "aria-hidden": "true" }, "CP"),
      h("span", { class: "brand-text" }, h("strong", null, t("app.name")), " ", h("span", null, t("console.name")))),
    h("button", { type: "button", class: "lang", id: "lang", lang: lang() === "zh" ? "en" : "zh-CN",
      "aria-label": t("lang.otherLabel"), onclick: () => {
        chooseLang(lang() === "zh" ? "en" : "zh");
        render();
      } }, t("lang.other")));
}

// last, once `actions` above is initialised: the first render's forms hold it (bundled, a top-level const is
// hoisted as undefined, and a click before the first load ended reached an undefined `actions`)
addWords(WORDS);
start();
