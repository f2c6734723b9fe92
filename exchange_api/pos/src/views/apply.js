// A shop that has no key yet: its application to accept points (names in 中文 and English, category and district
// from the catalogue's vocabulary, a contact, the settlement account), answered with a claim link shown once; and
// that link (#claim/<id>/<secret>), which yields the shop's first manager key, once, after the consortium
// registered the shop.
import { t, lang } from "../../../wallet/src/i18n.js";
import { h } from "../../../wallet/src/dom.js";
import { state } from "../state.js";
import { alertBox, field } from "./common.js";

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

export function applyView(actions) {
  if (state.applied) return appliedView(actions);
  const vocab = state.vocabulary || { categories: [], districts: [] };
  const text = (id, max, extra = {}) => h("input", { id, type: "text", autocomplete: "off", maxlength: String(max),
    required: true, ...extra });
  const nameZh = text("app-name-zh", 100);
  const nameEn = text("app-name-en", 100);
  const contact = text("app-contact", 200, { autocomplete: "tel" });
  const account = text("app-account", 42, { spellcheck: "false", autocapitalize: "off", class: "mono" });
  const choose = (id, items, key) => h("select", { id, onchange: (e) => { state.applyChoice[key] = e.target.value; } },
    h("option", { value: "" }, t("pos.app.choose")),
    items.map((c) => h("option", { value: c.code, selected: state.applyChoice[key] === c.code },
      lang() === "zh" ? c.zh : c.en)));
  const category = choose("app-category", vocab.categories, "category");
  const district = choose("app-district", vocab.districts, "district");
  return h("section", { class: "card", "aria-labelledby": "apply-title" },
    h("h1", { id: "apply-title", tabindex: "-1" }, t("pos.app.title")),
    h("p", { class: "muted" }, t("pos.app.lead")),
    h("form", { novalidate: true, onsubmit: (e) => {
      e.preventDefault();
      if (!nameZh.value.trim()) return actions.fail("pos.app.nameMissing", nameZh);
      if (!nameEn.value.trim()) return actions.fail("pos.app.nameMissing", nameEn);
      if (!category.value) return actions.fail("pos.app.categoryMissing", category);
      if (!district.value) return actions.fail("pos.app.districtMissing", district);
      if (contact.value.trim().length < 3) return actions.fail("pos.app.contactMissing", contact);
      if (!ADDRESS.test(account.value.trim())) return actions.fail("pos.app.badAccount", account);
      actions.apply({ nameZh: nameZh.value.trim(), nameEn: nameEn.value.trim(), category: category.value,
        district: district.value, contact: contact.value.trim(), settlementAccount: account.value.trim() });
    } },
    h("div", { class: "pair even" },
      field("app-name-zh", t("pos.app.nameZh"), nameZh), field("app-name-en", t("pos.app.nameEn"), nameEn)),
    h("div", { class: "pair even" },
      h("div", { class: "field" }, h("label", { for: "app-category" }, t("pos.app.category")), category),
      h("div", { class: "field" }, h("label", { for: "app-district" }, t("pos.app.district")), district)),
    field("app-contact", t("pos.app.contact"), contact, t("pos.app.contactHint")),
    field("app-account", t("pos.app.account"), account, t("pos.app.accountHint")),
    alertBox(state.error, "apply-error"),
    h("button", { type: "submit", class: "primary", "data-testid": "apply-send", disabled: state.busy === "apply" },
      t("pos.app.send")),
    h("button", { type: "button", class: "ghost", onclick: actions.closeApply }, t("pos.app.back"))));
}

function appliedView(actions) {
  const a = state.applied;
  return h("section", { class: "card", "aria-labelledby": "applied-title" },
    h("h1", { id: "applied-title", tabindex: "-1" }, t("pos.app.received")),
    h("p", null, t("pos.app.receivedLead", { id: a.id })),
    h("div", { class: "secret", "data-testid": "claim-link" },
      h("p", null, h("strong", null, t("pos.app.claimLink"))),
      h("p", { class: "mono break" }, h("a", { href: a.claimUrl, "data-testid": "claim-url" }, a.claimUrl)),
      h("p", { class: "small" }, t("pos.app.claimOnce"))),
    h("button", { type: "button", class: "ghost", onclick: actions.closeApply }, t("pos.app.back")));
}

export function claimView(actions) {
  const c = state.claim;
  return h("section", { class: "card", "aria-labelledby": "claim-title" },
    h("h1", { id: "claim-title", tabindex: "-1" }, t("pos.claim.title")),
    c.key ? h("div", { class: "secret", role: "status", "data-testid": "claimed-key" },
      h("p", null, h("strong", null, t("pos.claim.done"))),
      h("p", { class: "mono break", "data-testid": "key-value" }, c.key.apiKey),
      h("p", { class: "small" }, t("pos.keyOnce")))
      : h("p", { class: "muted" }, t("pos.claim.lead", { id: c.id })),
    alertBox(state.error, "claim-error"),
    c.key ? h("button", { type: "button", class: "primary", onclick: actions.closeClaim }, t("pos.claim.toSignIn"))
      : h("button", { type: "button", class: "primary", "data-testid": "claim-do", disabled: state.busy === "claim",
        onclick: actions.claim }, t("pos.claim.do")));
}
