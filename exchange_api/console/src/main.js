// The consortium's console: the city at a glance for the points office, the programmes, the clearing bank and the
// auditor. Read-only: it reads the API's public endpoints (and the statements with an auditor API key typed into
// this tab) on its own origin and signs nothing. Words, number formats and the API client are the wallet's.
import { t, lang, addWords } from "../../wallet/src/i18n.js";
import { h } from "../../wallet/src/dom.js";
import { WORDS } from "./words.js";
import { state, startLang, chooseLang, load, loadStatements } from "./state.js";
import { healthView, schemesView, clearingView } from "./views/glance.js";

const REFRESH_MS = 15_000;

addWords(WORDS);
start();

function start() {
  startLang(new URLSearchParams(location.search).get("lang"));
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
    await loadStatements();
    render();
  },
};

function render() {
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  document.title = `${t("app.name")} · ${t("console.name")}`;
  const focused = document.activeElement && document.activeElement.id;
  const main = h("main", { id: "main", tabindex: "-1" },
    h("div", { class: "row heading" },
      h("h1", null, t("console.title")),
      h("button", { type: "button", class: "ghost small", onclick: refresh }, t("console.refresh"))),
    h("p", { class: "muted small" }, t("console.readOnly")),
    h("div", { class: "glance" }, healthView(), schemesView(), clearingView(actions)));
  document.getElementById("app").replaceChildren(
    h("a", { class: "skip", href: "#main", onclick: (e) => { e.preventDefault(); main.focus(); } }, t("skip")),
    header(),
    main);
  if (focused) document.getElementById(focused)?.focus();
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
