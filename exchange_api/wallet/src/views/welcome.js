// Before there is a key: create one here (the usual way), or import one (advanced). Either way it is
// stored encrypted with a password (keystore.js) and the page goes on to the points, or to a waiting request.
import { t } from "../i18n.js";
import * as keystore from "../keystore.js";
import { state, page } from "../state.js";
import { h, announce, errorText, alertBox, field, passwordInput, busy } from "../ui.js";
import { openRequest } from "./pay.js";
import { lostKeyInfo, loadRecoveryPolicy } from "./recovery.js";

export function welcomeView() {
  const tabs = ["create", "import"];  // a resident makes a key here; importing one is the advanced path
  return h("section", { class: "welcome", "aria-labelledby": "welcome-title" },
    h("h1", { id: "welcome-title", tabindex: "-1" }, t("welcome.title")),
    h("p", { class: "lead" }, t("welcome.body")),
    state.fromLink ? h("p", { class: "notice", role: "status" }, t("welcome.requestWaiting")) : null,
    h("div", { class: "segmented", role: "group", "aria-label": t("key.private") }, tabs.map((k) =>
      h("button", { type: "button", "aria-pressed": state.welcome === k ? "true" : "false",
        onclick: () => { state.welcome = k; page.render(); document.querySelector(".welcome form input")?.focus(); } },
        t(`welcome.${k}`)))),
    state.welcome === "lost" ? lostPanel() : h("p", { class: "lost-link" }, h("button", { type: "button",
      class: "link", "data-testid": "lost-key-link", onclick: () => {
        state.welcome = "lost";
        page.render();
        document.getElementById("lost-title")?.focus();
        loadRecoveryPolicy();
      } }, t("rec.lost"))),
    keyForm(state.welcome === "import" ? "import" : "create"));
}

/** "Lost your key?": the visit to the office explained; the form below makes the new key to take there. */
function lostPanel() {
  if (!state.recoveryPolicy) loadRecoveryPolicy();
  return h("div", { class: "card lost", "aria-labelledby": "lost-title" },
    h("h2", { id: "lost-title", tabindex: "-1" }, t("rec.lostTitle")),
    lostKeyInfo("welcome"));
}

function keyForm(mode) {
  const error = h("div", { class: "form-error" });
  const keyIn = mode === "import"
    ? h("input", { type: "password", autocomplete: "off", spellcheck: "false", autocapitalize: "off", required: true,
      class: "mono" })
    : null;
  const pw1 = passwordInput("new-password");
  const pw2 = passwordInput("new-password");
  const submit = h("button", { type: "submit", class: "primary" },
    t(mode === "import" ? "key.saveImport" : state.welcome === "lost" ? "rec.createNew" : "key.saveCreate"));
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
    const lost = state.welcome === "lost";  // a new key for a recovery: straight to its code, for the office
    state.view = state.codeInput ? "pay" : lost ? "receive" : "points";
    history.replaceState(null, "", `#/${state.view}`);
    announce(t(mode === "import" ? "key.imported" : "key.created"));
    state.notice = t(mode === "import" ? "key.imported" : "key.created");
    page.render();
    document.querySelector("main h1")?.focus();
    await page.refresh();
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
