// Shops applying to accept points (GET /v1/merchant_applications, with an auditor key typed in this tab): each
// shop's names, category, district, contact and settlement account, its state (received; registered on the chain;
// its first key claimed) and, while received, the `citypoints gov propose register-merchant` a member runs to
// register it (then approved here, as any proposal). The page signs nothing for it: a proposal is a member's act.
import { t, lang } from "../../../wallet/src/i18n.js";
import * as fmt from "../../../wallet/src/format.js";
import { h } from "../../../wallet/src/dom.js";
import { state } from "../state.js";
import { failure } from "./glance.js";

const unix = (iso) => Math.floor(Date.parse(iso) / 1000);

function named(kind, code) {
  const entry = state.vocabulary && state.vocabulary[kind].find((c) => c.code === code);
  return entry ? (lang() === "zh" ? entry.zh : entry.en) : code;
}

export function applicationsView(actions) {
  const list = state.applications;
  return h("section", { class: "card applications", "aria-labelledby": "apps-title", "data-testid": "applications" },
    h("h2", { id: "apps-title" }, t("apps.title")),
    h("p", { class: "muted small" }, t("apps.intro")),
    state.applicationsError ? h("p", { class: "alert", role: "alert" }, failure(state.applicationsError)) : null,
    !state.auditorKey || !list ? keyForm(actions) : null,
    list && !list.length ? h("p", { class: "muted" }, t("apps.none")) : null,
    list && list.length ? h("ul", { class: "apps", "data-testid": "applications-list" }, list.map(card)) : null);
}

function keyForm(actions) {
  const input = h("input", { id: "applications-key", type: "password", autocomplete: "off", spellcheck: "false",
    "aria-describedby": "applications-key-hint" });
  return h("form", { class: "key-form", onsubmit: (e) => {
    e.preventDefault();
    actions.showStatements(input.value.trim());
  } },
  h("label", { for: "applications-key" }, t("clearing.keyLabel")),
  h("div", { class: "row" }, input, h("button", { type: "submit", class: "small" }, t("apps.show"))),
  h("p", { class: "hint muted small", id: "applications-key-hint" }, t("apps.keyHint")));
}

function card(a) {
  return h("li", { "data-id": a.id, "data-status": a.status },
    h("div", { class: "row" },
      h("strong", null, lang() === "zh" ? `${a.nameZh} · ${a.nameEn}` : `${a.nameEn} · ${a.nameZh}`),
      h("span", { class: `pill ${a.status === "received" ? "" : "ok"}` }, t(`apps.status.${a.status}`))),
    h("dl", { class: "app-facts" },
      h("dt", null, t("apps.category")), h("dd", null, `${named("categories", a.category)} · ${named("districts",
        a.district)}`),
      h("dt", null, t("apps.contact")), h("dd", null, a.contact),
      h("dt", null, t("apps.account")), h("dd", null, h("code", { class: "addr break" }, a.settlementAccount)),
      h("dt", null, t("apps.applied")), h("dd", null, fmt.dateTime(unix(a.createdAt)), " · ", h("code", null, a.id))),
    a.status === "received" ? [
      h("p", { class: "small" }, t("apps.propose")),
      h("pre", { class: "command", "data-testid": "propose-command" }, h("code", null, a.proposal.command))]
      : h("p", { class: "small muted" }, a.status === "registered" ? t("apps.registered")
        : t("apps.claimed", { when: fmt.dateTime(unix(a.claimedAt)) })));
}
