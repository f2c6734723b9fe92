// "Key": the address, the language, the spending order of programmes (views/spending.js), a back-up of the
// private key (shown only after the password), who used the resident's identity data (views/trail.js) and
// removing the key from this device.
import { t, lang } from "../i18n.js";
import * as keystore from "../keystore.js";
import { state, page, forgetKey, chooseLang } from "../state.js";
import { h, announce, errorText, alertBox, field, passwordInput, busy } from "../ui.js";
import { dropLoginForm } from "./pay.js";
import { lostKeyInfo, loadRecoveryPolicy } from "./recovery.js";
import { trailCard, dropTrail } from "./trail.js";
import { spendingCard } from "./spending.js";

export function settingsView() {
  const a = state.record.address;
  if (!state.recoveryPolicy) loadRecoveryPolicy();
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
          onclick: () => { chooseLang(code); page.render(); } }, name)))),
    spendingCard(),
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
    trailCard(),
    h("section", { class: "card", "aria-labelledby": "lost-title" },
      h("h2", { id: "lost-title" }, t("rec.lost")),
      lostKeyInfo("settings")),
    h("form", { class: "card danger", novalidate: true, onsubmit: (e) => {
      e.preventDefault();
      removeErr.replaceChildren();
      if (!confirm.checked) {
        removeErr.append(alertBox(t("set.removeTick")));
        confirm.focus();
        return;
      }
      forgetKey();
      dropLoginForm();
      dropTrail();
      history.replaceState(null, "", location.pathname);
      page.render();
      announce(t("set.removed"));
    } },
    h("h2", null, t("set.remove")),
    h("p", { class: "muted" }, t("set.removeBody")),
    h("div", { class: "check" }, confirm, h("label", { for: "remove-confirm" }, t("set.removeConfirm"))),
    removeErr,
    h("button", { type: "submit", class: "danger" }, t("set.removeButton"))));
}
