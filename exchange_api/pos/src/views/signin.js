// Signing the till in: the shop's API key, typed once, exchanged for the session cookie (the field is emptied at
// once; the key is in no storage and no later request), and, for a shop without a key, the way to apply.
import { t } from "../../../wallet/src/i18n.js";
import { h } from "../../../wallet/src/dom.js";
import { state } from "../state.js";
import { alertBox, field } from "./common.js";

export function signInView(actions) {
  const key = h("input", { type: "password", autocomplete: "off", spellcheck: "false", autocapitalize: "off",
    required: true, maxlength: "200" });
  return h("section", { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title", tabindex: "-1" }, t("pos.signInTitle")),
    h("p", { class: "muted" }, t("pos.signInLead")),
    state.notice ? h("p", { role: "status" }, t(state.notice)) : null,
    h("form", { novalidate: true, onsubmit: (e) => {
      e.preventDefault();
      const value = key.value.trim();
      key.value = "";
      if (value) actions.signIn(value);
    } },
    field("api-key", t("pos.apiKey"), key, t("pos.apiKeyHint")),
    alertBox(state.error, "signin-error"),
    h("button", { type: "submit", class: "primary", disabled: state.busy === "signin" }, t("pos.signIn"))),
    h("div", { class: "apply-cta" },
      h("p", { class: "muted" }, t("pos.app.cta")),
      h("button", { type: "button", class: "secondary", "data-testid": "apply-open", onclick: actions.openApply },
        t("pos.app.open"))));
}
