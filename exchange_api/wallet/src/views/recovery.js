// Key recovery as a resident meets it (exchange_api/services/recoveries.py):
// - "Lost your key?": the visit to the registration office, what to bring, the notice period (from the chain
//   through the API), and the NEW key made here, whose code the office reads (views/receive.js).
// - The old key's wallet: a banner while a recovery of its account is pending (who started it, when it completes,
//   a countdown) with "This was not me — object": the EIP-712 RecoveryObjection the API offers is checked against
//   what the banner shows, signed here and posted (no gas); the banner then says the recovery was stopped.
// - The new key's wallet: the countdown while its recovery is pending, then "your points are here".
import { t } from "../i18n.js";
import * as fmt from "../format.js";
import { api, ApiError } from "../api.js";
import { state, page } from "../state.js";
import { h, announce, errorText, alertBox, field, passwordInput, busy, unlockOrExplain } from "../ui.js";
import { leftText } from "./pay.js";

const OBJECTION_FIELDS = [["account", "address"], ["newAccount", "address"], ["nonce", "uint256"],
  ["deadline", "uint256"]];

/** The recovery of this key's account (old key) and the one toward it (new key); errors leave them as they were. */
export async function loadRecovery() {
  const address = state.record && state.record.address;
  if (!address) return false;
  const before = recoveryKey();
  const [mine, toward] = await Promise.all([
    api.recovery(address).catch((exc) => (exc instanceof ApiError && exc.status === 404 ? null : state.recovery)),
    api.recoveriesToward(address).then((list) => list[0] || null).catch(() => state.recoveryToward),
  ]);
  state.recovery = mine;
  state.recoveryToward = toward;
  return recoveryKey() !== before;
}

/** The notice period, read once (for "Lost your key?"); null while unknown (a failed read is tried at the next draw). */
let policyLoading = null;
export function loadRecoveryPolicy() {
  if (state.recoveryPolicy || policyLoading) return;
  policyLoading = api.recoveryPolicy().then((p) => {
    state.recoveryPolicy = p;
    // written in place, not by rendering the page again: the page may hold a form the resident is typing in (a new
    // key's password on the first screen, the back-up's under "Key"), which a new render would give back empty
    for (const el of document.querySelectorAll("[data-testid=notice-period]")) {
      el.textContent = t("rec.notice", { period: periodText(p.noticeSeconds) });
    }
  }, () => {}).finally(() => { policyLoading = null; });
}

function recoveryKey() {
  const r = state.recovery;
  const n = state.recoveryToward;
  return JSON.stringify([r && r.state, r && r.nonce, n && n.state, n && n.nonce]);
}

/** "3 days", "2 hours", "45 seconds": a notice period in words. */
export function periodText(seconds) {
  const s = Number(seconds);
  if (s >= 86400 && s % 86400 === 0) return s === 86400 ? t("rec.day") : t("rec.days", { n: s / 86400 });
  if (s >= 3600) return t("rec.hours", { n: Math.round(s / 3600) });
  if (s >= 60) return t("rec.minutes", { n: Math.round(s / 60) });
  return t("rec.seconds", { n: s });
}

/** What the resident reads before the visit: on the first screen (`where` "welcome", the new key's form follows)
 * and under "Key" ("settings": the new key is made on the new phone). */
export function lostKeyInfo(where) {
  const p = state.recoveryPolicy;
  return h("div", { class: "lost-key", "data-testid": "lost-key" },
    h("p", null, t("rec.lostBody")),
    h("p", null, t("rec.bring")),
    h("p", null, t(where === "welcome" ? "rec.createBelow" : "rec.elsewhere")),
    h("p", { class: "strong", "data-testid": "notice-period" },
      p ? t("rec.notice", { period: periodText(p.noticeSeconds) }) : t("rec.noticeUnknown")),
    h("p", { class: "muted small" }, t("rec.noticeWhy")));
}

/** The banner over every view: the old key's warning (or that it was stopped / moved), the new key's wait. */
export function recoveryBanner() {
  const r = state.recovery;
  const n = state.recoveryToward;
  if (r && r.state === "pending") return pendingBanner(r);
  if (state.recoveryStopped) {
    return h("p", { class: "notice recovery-done", role: "status", "data-testid": "recovery-stopped" },
      t("rec.stopped"));
  }
  if (r && r.state === "completed") {
    return h("p", { class: "alert", role: "status", "data-testid": "recovery-moved" },
      t("rec.movedAway", { a: r.newAccount }));
  }
  if (n && n.state === "pending") {
    return h("section", { class: "card recovery toward", role: "status", "aria-labelledby": "toward-title",
      "data-testid": "recovery-toward" },
    h("h2", { id: "toward-title" }, t("rec.towardTitle")),
    h("p", null, t("rec.towardBody")),
    h("p", null, h("span", { class: "label" }, t("rec.arrives"), " "),
      h("strong", { "data-recovery-at": String(n.executableAt) }, countdown(n.executableAt))));
  }
  if (n && n.state === "completed") {
    return h("p", { class: "notice", role: "status", "data-testid": "recovery-restored" }, t("rec.restored"));
  }
  return null;
}

function pendingBanner(r) {
  const by = r.startedBy;
  const who = by ? (by.name || t("rec.unknownOffice", { a: by.address })) : "…";
  const error = h("div", { class: "form-error" });
  const pw = passwordInput();
  const sign = h("button", { type: "submit", class: "danger" }, t("rec.objectSign"));
  const form = h("form", { class: "objection", novalidate: true, hidden: !state.objecting,
    onsubmit: (e) => { e.preventDefault(); object(r, pw, sign, error); } },
  h("p", { class: "small" }, t("rec.objectPassword")),
  field("objection-password", t("key.password"), pw), error, sign);
  const open = h("button", { type: "button", class: "danger wide", "aria-expanded": state.objecting ? "true" : "false",
    "aria-controls": "objection-form", hidden: state.objecting, onclick: () => {
      state.objecting = true;
      form.hidden = false;
      open.hidden = true;
      open.setAttribute("aria-expanded", "true");
      pw.focus();
    } }, t("rec.objectButton"));
  form.id = "objection-form";
  return h("section", { class: "card recovery danger", role: "alert", "aria-labelledby": "recovery-title",
    "data-testid": "recovery-banner" },
  h("h2", { id: "recovery-title" }, t("rec.bannerTitle")),
  h("p", null, t("rec.bannerBody")),
  h("dl", { class: "recovery-facts" },
    h("dt", null, t("rec.startedBy")), h("dd", { "data-testid": "recovery-by" }, who),
    h("dt", null, t("rec.completesAt")),
    h("dd", { "data-recovery-at": String(r.executableAt), "data-testid": "recovery-countdown" },
      countdown(r.executableAt)),
    h("dt", null, t("rec.newKey")), h("dd", { class: "mono break" }, r.newAccount)),
  open, form);
}

function countdown(at) {
  const left = Number(at) - Math.floor(Date.now() / 1000);
  return t("pay.expiresIn", { time: fmt.dateTime(at), left: leftText(Math.max(left, 0)) });
}

/** Every second: the countdowns of the banners. */
export function tickRecovery() {
  for (const el of document.querySelectorAll("[data-recovery-at]")) {
    el.textContent = countdown(el.getAttribute("data-recovery-at"));
  }
}

/** The objection the API offers must be about exactly the recovery the banner shows, and nothing else. */
function objectionMatches(doc, r, address) {
  const td = doc || {};
  const m = td.message || {};
  const fields = (td.types && td.types.RecoveryObjection) || [];
  const same = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();
  return td.primaryType === "RecoveryObjection" && td.domain && td.domain.name === "CityPoints" &&
    td.domain.version === "1" && Object.keys(td.types).every((k) => k === "EIP712Domain" || k === "RecoveryObjection") &&
    fields.length === OBJECTION_FIELDS.length &&
    fields.every((f, i) => f.name === OBJECTION_FIELDS[i][0] && f.type === OBJECTION_FIELDS[i][1]) &&
    same(m.account, address) && same(m.account, r.account) && same(m.newAccount, r.newAccount) &&
    fmt.big(m.nonce) === fmt.big(r.nonce) && fmt.big(m.deadline) * 1000n > BigInt(Date.now());
}

async function object(r, pw, button, error) {
  error.replaceChildren();
  const done = busy(button, t("rec.objecting"));
  let current;
  try {
    current = await api.recovery(state.record.address); // a fresh objection document (its deadline)
  } catch (exc) {
    done();
    error.append(alertBox(errorText(exc)));
    return;
  }
  if (current.state !== "pending" || !objectionMatches(current.objection, r, state.record.address)) {
    done();
    error.append(alertBox(t("rec.wrongDocument")));
    return;
  }
  const wallet = await unlockOrExplain(pw, error, done);
  if (!wallet) return;
  try {
    const td = current.objection;
    const { EIP712Domain, ...types } = td.types;
    const signature = await wallet.signTypedData(td.domain, types, td.message);
    const m = td.message;
    state.recovery = await api.objectToRecovery(state.record.address,
      { newAccount: m.newAccount, nonce: m.nonce, deadline: m.deadline, signature });
    pw.value = "";
    state.objecting = false;
    state.recoveryStopped = state.recovery.state === "objected";
    page.render();
    announce(t("rec.stopped"));
  } catch (exc) {
    done();
    error.append(alertBox(errorText(exc)));
  }
}
