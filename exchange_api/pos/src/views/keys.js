// The shop's keys, for managers (the API's /v1/keys): each key's name, first characters, scope, state, when it was
// made and last used, and a rotation's end; a new staff key (cashier or manager) and a rotated key's replacement
// are shown once, here, and never again; rotating lets the old key work for the grace chosen; revoking asks twice.
import { t } from "../../../wallet/src/i18n.js";
import { h } from "../../../wallet/src/dom.js";
import * as fmt from "../../../wallet/src/format.js";
import { state } from "../state.js";
import { alertBox, field } from "./common.js";

const unix = (iso) => Math.floor(Date.parse(iso) / 1000);
/** Graces a manager picks from, in seconds (the API takes 0 to 7 days). */
export const GRACES = [0, 3600, 86400, 7 * 86400];

export function keysView(actions) {
  const keys = state.keys;
  return h("section", { class: "card", "aria-labelledby": "keys-title" },
    h("div", { class: "row" }, h("h1", { id: "keys-title", tabindex: "-1" }, t("pos.keysTitle")),
      h("button", { type: "button", class: "ghost small", onclick: actions.loadKeys }, t("pos.reload"))),
    h("p", { class: "muted" }, t("pos.keysLead")),
    state.shownKey ? shownOnce(actions) : null,
    alertBox(state.error, "keys-error"),
    newKeyForm(actions),
    keys ? h("ul", { class: "till-list", "data-testid": "keys-list" }, keys.map((k) => keyRow(k, actions))) : null);
}

function shownOnce(actions) {
  const k = state.shownKey;
  return h("div", { class: "secret", role: "status", "data-testid": "key-once" },
    h("p", null, h("strong", null, t(k.replaces ? "pos.keyRotated" : "pos.keyMade", { name: k.name }))),
    h("p", { class: "mono break", "data-testid": "key-value" }, k.apiKey),
    h("p", { class: "small" }, t("pos.keyOnce")),
    k.replaces && k.replaces.expiresAt ? h("p", { class: "small" },
      t("pos.keyOldUntil", { t: fmt.dateTime(unix(k.replaces.expiresAt)) })) : null,
    h("button", { type: "button", class: "secondary", "data-testid": "key-copied", onclick: actions.keyCopied },
      t("pos.keyCopied")));
}

function newKeyForm(actions) {
  const name = h("input", { type: "text", autocomplete: "off", maxlength: "100", required: true });
  const scope = h("select", { id: "key-scope", onchange: (e) => { state.newScope = e.target.value; } },
    ["cashier", "manager"].map((s) => h("option", { value: s, selected: state.newScope === s }, t(`pos.scope.${s}`))));
  return h("form", { class: "key-form", novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    const value = name.value.trim();
    if (!value) return actions.fail("pos.keyNameMissing", name);
    name.value = "";
    actions.createKey(value, scope.value);
  } },
  h("h2", null, t("pos.keyNew")),
  h("div", { class: "pair even" },
    field("key-name", t("pos.keyName"), name, t("pos.keyNameHint")),
    h("div", { class: "field" }, h("label", { for: "key-scope" }, t("pos.keyScope")), scope,
      h("p", { class: "hint" }, t(`pos.scopeHint.${state.newScope}`)))),
  h("button", { type: "submit", class: "primary", "data-testid": "key-create", disabled: state.busy === "key" },
    t("pos.keyCreate")));
}

function keyRow(k, actions) {
  const live = k.status === "active" || k.status === "expiring";
  const when = [t("pos.keyCreated", { t: fmt.dateTime(unix(k.createdAt)) }),
    k.lastUsedAt ? t("pos.keyUsed", { t: fmt.dateTime(unix(k.lastUsedAt)) }) : t("pos.keyNeverUsed")];
  if (k.status === "expiring") when.push(t("pos.keyEnds", { t: fmt.dateTime(unix(k.expiresAt)) }));
  if (k.status === "expired") when.push(t("pos.keyEnded", { t: fmt.dateTime(unix(k.expiresAt)) }));
  if (k.status === "revoked") when.push(t("pos.keyRevokedAt", { t: fmt.dateTime(unix(k.revokedAt)) }));
  const rotating = state.rotating === k.id;
  return h("li", { "data-id": k.id, "data-status": k.status },
    h("div", { class: "what" },
      h("strong", null, k.name, k.current ? [" ", h("span", { class: "muted small" }, t("pos.keyThis"))] : null),
      h("span", { class: "small" }, h("span", { class: "mono" }, `${k.prefix}…`), " · ", t(`pos.scope.${k.scope}`),
        " · ", h("span", { class: `key-${k.status}` }, t(`pos.keyStatus.${k.status}`))),
      h("span", { class: "muted small" }, when.join(" · "))),
    live && !rotating ? h("div", { class: "acts" },
      k.status === "active" ? h("button", { type: "button", class: "ghost", "data-testid": "key-rotate",
        onclick: () => actions.openRotate(k.id) }, t("pos.keyRotate")) : null,
      h("button", { type: "button", class: state.revoking === k.id ? "danger" : "ghost", "data-testid": "key-revoke",
        disabled: state.busy === `revoke:${k.id}`, onclick: () => actions.revokeKey(k.id) },
      t(state.revoking === k.id ? "pos.keyRevokeSure" : "pos.keyRevoke"))) : null,
    rotating ? rotateForm(k, actions) : null);
}

function rotateForm(k, actions) {
  const grace = h("select", { id: `grace-${k.id}`, onchange: (e) => { state.grace = Number(e.target.value); } },
    GRACES.map((g) => h("option", { value: String(g), selected: state.grace === g }, t(`pos.grace.${g}`))));
  return h("form", { class: "refund-form", novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    actions.rotateKey(k.id, Number(grace.value));
  } },
  h("div", { class: "field" }, h("label", { for: `grace-${k.id}` }, t("pos.keyGrace")), grace,
    h("p", { class: "hint" }, t("pos.keyGraceHint"))),
  h("div", { class: "inline" },
    h("button", { type: "submit", class: "secondary", "data-testid": "key-rotate-do",
      disabled: state.busy === `rotate:${k.id}` }, t("pos.keyRotate")),
    h("button", { type: "button", class: "ghost", onclick: actions.closeRotate }, t("pos.cancel"))));
}
