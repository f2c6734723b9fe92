// The frame around every view: the header (brand, the resident's address, the language switch) and the tabs.
import { t, lang } from "../i18n.js";
import * as fmt from "../format.js";
import { state, page, VIEWS, chooseLang } from "../state.js";
import { h } from "../ui.js";

export function header() {
  return h("header", { class: "top" },
    h("div", { class: "brand" },
      h("span", { class: "logo", "aria-hidden": "true" }, "CP"),
      h("span", { class: "brand-text" }, h("strong", null, t("app.name")), " ", h("span", null, t("app.wallet")))),
    state.record ? h("span", { class: "who", title: state.record.address }, fmt.short(state.record.address)) : null,
    h("button", { type: "button", class: "lang", lang: lang() === "zh" ? "en" : "zh-CN",
      "aria-label": t("lang.otherLabel"), onclick: switchLang }, t("lang.other")));
}

export function nav() {
  return h("nav", { class: "tabs", "aria-label": t("nav.label") },
    h("ul", null, VIEWS.map((v) => h("li", null,
      h("a", { href: `#/${v}`, "aria-current": state.view === v ? "page" : false,
        onclick: (e) => { e.preventDefault(); page.show(v, { focus: true }); } },
        icon(v), h("span", null, t(`nav.${v}`)),
        v === "pay" && state.waiting.length ? [h("span", { class: "badge", "aria-hidden": "true" },
          String(state.waiting.length)), h("span", { class: "visually-hidden" },
          t("nav.waitingCount", { n: state.waiting.length }))] : null)))));
}

function switchLang() {
  chooseLang(lang() === "zh" ? "en" : "zh");
  page.render();
  document.querySelector("button.lang")?.focus();
}

const ICONS = {
  points: "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18Zm0 4v10m-3-7.5c0-1.1 1.3-2 3-2s3 .9 3 2-1.3 1.8-3 2.2-3 1.1-3 2.3 1.3 2 3 2 3-.9 3-2",
  pay: "M4 6h16v12H4zM4 10h16M8 15h3",
  shops: "M4 9l1.5-5h13L20 9M4 9h16M4 9c0 1.7 1.3 3 3 3s3-1.3 3-3m0 0c0 1.7 .9 3 2 3s2-1.3 2-3m0 0c0 1.7 1.3 3 3 3s3-1.3 3-3M5 12v8h14v-8M10 20v-5h4v5",
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
