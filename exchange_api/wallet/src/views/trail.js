// "Who used my identity data, when and why" (issue 23; exchange_api/services/identity_trail.py): the uses of the
// resident's personal data recorded on the ledger's identity-use trail, each with the organisation (where the API
// knows it, else its account), the purpose in words and the time. Only the resident reads them: the list comes
// with the login token (session.js, a signed ResidentLogin). "I do not recognise this" signs the EIP-712
// TrailObjection the API offers, after checking it names exactly this entry and this key, and posts it (no gas);
// the entry then shows "objected". Shown as a card under "Key".
import { t } from "../i18n.js";
import * as fmt from "../format.js";
import { api } from "../api.js";
import * as session from "../session.js";
import { state } from "../state.js";
import { h, announce, errorText, alertBox, field, passwordInput, busy, unlockOrExplain,
  signInResident } from "../ui.js";

const OBJECTION_FIELDS = [["entryId", "uint256"], ["resident", "address"], ["nonce", "bytes32"],
  ["deadline", "uint256"]];
const PURPOSES = ["onboarding", "identity-recheck", "issuance-lookup", "recovery-verification", "eligibility-proof",
  "data-export", "legal-request"];

let box = null; // the card's body, kept across renders so a refresh never clears a typed password

/** The key was removed: the next resident gets a fresh card. */
export function dropTrail() {
  box = null;
  state.trail = null;
}

export function trailCard() {
  if (!box) box = h("div", { id: "trail-body", "aria-live": "polite" });
  box.replaceChildren(body());
  return h("section", { class: "card trail", "aria-labelledby": "trail-title", "data-testid": "identity-trail" },
    h("h2", { id: "trail-title" }, t("trail.title")),
    h("p", { class: "muted small" }, t("trail.lead")),
    box);
}

function redraw() {
  if (box) box.replaceChildren(body());
}

function body() {
  const address = state.record.address;
  if (!session.token(address)) return signInForm();
  if (!state.trail) { // signed in elsewhere on this page (the payment requests): read the trail with that token
    loadTrail().then(redraw, () => {});
    return h("p", { class: "muted" }, t("trail.loading"));
  }
  const entries = state.trail;
  if (!entries.length) return h("p", { class: "muted", "data-testid": "trail-empty" }, t("trail.none"));
  return h("ul", { class: "trail-list" }, entries.map(entryItem));
}

function signInForm() {
  const pw = passwordInput();
  const error = h("div", { class: "form-error" });
  const button = h("button", { type: "submit", class: "secondary" }, t("trail.show"));
  return h("form", { novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    return signInResident(pw, error, button, async () => {
      await loadTrail();
      redraw();
    });
  } },
  h("p", { class: "muted small" }, t("trail.loginHint")),
  field("trail-password", t("key.password"), pw), error, button);
}

async function loadTrail() {
  const address = state.record.address;
  state.trail = (await api.identityTrail(address, session.token(address))).data;
}

export function purposeText(purpose) {
  return PURPOSES.includes(purpose) ? t(`trail.purpose.${purpose}`) : t("trail.purpose.other", { p: purpose });
}

function entryItem(e) {
  const who = e.actorName || t("trail.unknownActor", { a: fmt.short(e.actor) });
  const item = h("li", { "data-testid": "trail-entry", "data-entry": String(e.id) },
    h("p", { class: "title" }, purposeText(e.purpose)),
    h("p", null, h("span", { class: "label" }, t("trail.by"), " "), h("span", { title: e.actor }, who)),
    h("p", { class: "muted small" }, fmt.dateTime(e.at)));
  if (e.objected) {
    item.append(h("p", { class: "pill objected", "data-testid": "trail-objected" }, t("trail.objected")));
    return item;
  }
  if (e.beforeJoining) { // an issuer's lookup to credit you before you had an account: nothing to sign it with
    item.append(h("p", { class: "muted small", "data-testid": "trail-before-joining" }, t("trail.beforeJoining")));
    return item;
  }
  const pw = passwordInput();
  const error = h("div", { class: "form-error" });
  const sign = h("button", { type: "submit", class: "danger" }, t("trail.objectSign"));
  const id = `trail-object-${e.id}`;
  const form = h("form", { class: "objection", id, novalidate: true, hidden: true,
    onsubmit: (ev) => { ev.preventDefault(); object(e, pw, sign, error); } },
  h("p", { class: "small" }, t("trail.objectPassword")),
  field(`${id}-password`, t("key.password"), pw), error, sign);
  const open = h("button", { type: "button", class: "ghost danger-text", "aria-expanded": "false",
    "aria-controls": id, onclick: () => {
      form.hidden = false;
      open.hidden = true;
      open.setAttribute("aria-expanded", "true");
      pw.focus();
    } }, t("trail.objectButton"));
  item.append(open, form);
  return item;
}

/** The objection the API offers must be about exactly this entry and this key, and nothing else. */
function objectionMatches(doc, entry, address) {
  const td = doc || {};
  const m = td.message || {};
  const fields = (td.types && td.types.TrailObjection) || [];
  return td.primaryType === "TrailObjection" && td.domain && td.domain.name === "CityPoints" &&
    td.domain.version === "1" && Object.keys(td.types).every((k) => k === "EIP712Domain" || k === "TrailObjection") &&
    fields.length === OBJECTION_FIELDS.length &&
    fields.every((f, i) => f.name === OBJECTION_FIELDS[i][0] && f.type === OBJECTION_FIELDS[i][1]) &&
    String(m.resident).toLowerCase() === address.toLowerCase() && fmt.big(m.entryId) === fmt.big(entry.id) &&
    /^0x[0-9a-fA-F]{64}$/.test(String(m.nonce)) && fmt.big(m.deadline) * 1000n > BigInt(Date.now());
}

async function object(entry, pw, button, error) {
  error.replaceChildren();
  const done = busy(button, t("trail.objecting"));
  const address = state.record.address;
  if (session.token(address)) { // a fresh objection document (its deadline), while the session lasts
    try {
      await loadTrail();
      entry = state.trail.find((x) => x.id === entry.id) || entry;
    } catch {
      // the document already shown is checked as it is
    }
  }
  if (!objectionMatches(entry.objection, entry, address)) {
    done();
    error.append(alertBox(t("trail.wrongDocument")));
    return;
  }
  const wallet = await unlockOrExplain(pw, error, done);
  if (!wallet) return;
  try {
    const td = entry.objection;
    const { EIP712Domain, ...types } = td.types;
    const signature = await wallet.signTypedData(td.domain, types, td.message);
    const m = td.message;
    await api.objectToIdentityUse(entry.id, { resident: address, nonce: m.nonce, deadline: m.deadline, signature });
    pw.value = "";
    state.trail = state.trail.map((x) => (x.id === entry.id ? { ...x, objected: true, objection: null } : x));
    redraw();
    announce(t("trail.objectedDone"));
  } catch (exc) {
    done();
    error.append(alertBox(errorText(exc)));
  }
}
