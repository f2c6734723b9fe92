// The governance view: the consortium's proposals (open, queued, executable, executed, expired, cancelled) with
// their approvals n of m and who approved (by transaction or by signature), the earliest execution time and each
// call in words; and a member's approval signed in this page with a member key kept encrypted in this browser.
import { t } from "../../../wallet/src/i18n.js";
import * as fmt from "../../../wallet/src/format.js";
import { WrongPassword, NoCrypto, MIN_PASSWORD } from "../../../wallet/src/keystore.js";
import { h } from "../../../wallet/src/dom.js";
import { state } from "../state.js";
import { callWords } from "../calls.js";
import { duration } from "../duration.js";
import { CallsMismatch, PasswordTooShort } from "../approval.js";
import { failure } from "./glance.js";

const OPEN = new Set(["open", "queued", "executable"]);

function problem(exc) {
  if (exc instanceof WrongPassword) return t("gov.wrongPassword");
  if (exc instanceof NoCrypto) return t("err.noCrypto");
  if (exc instanceof CallsMismatch) return t("gov.callsMismatch");
  if (exc instanceof PasswordTooShort) return t("gov.passwordShort", { n: MIN_PASSWORD });
  if (exc instanceof RangeError) return t("gov.keyFormat");
  return failure(exc);
}

const alert = (exc) => h("p", { class: "alert", role: "alert" }, problem(exc));

export function governanceView(actions) {
  const g = state.gov;
  const listing = g.listing;
  return h("section", { class: "card governance", "aria-labelledby": "gov-title", "data-testid": "governance" },
    h("div", { class: "row" },
      h("h2", { id: "gov-title" }, t("gov.title")),
      listing ? h("span", { class: "muted small" }, t("gov.members", { n: listing.members.length })) : null),
    h("p", { class: "muted small" }, t("gov.intro")),
    g.error ? alert(g.error) : null,
    memberKeyBox(actions),
    !listing ? h("p", { class: "muted" }, t("console.loading"))
      : listing.data.length ? h("ol", { class: "proposals", reversed: true },
        listing.data.map((p) => h("li", null, proposalCard(p, listing, actions))))
        : h("p", { class: "muted" }, t("gov.none")));
}

function memberKeyBox(actions) {
  const g = state.gov;
  const rec = g.record;
  if (rec) {
    const member = g.listing && g.listing.members.includes(rec.address);
    return h("div", { class: "member-key", "data-testid": "member-key" },
      h("p", null, t("gov.keyHeld"), " ", h("code", { class: "addr" }, rec.address), " ",
        g.listing ? h("span", { class: `pill ${member ? "ok" : "bad"}` }, t(member ? "gov.isMember" : "gov.notMember"))
          : null),
      h("button", { type: "button", class: "ghost small", onclick: actions.forgetKey }, t("gov.forgetKey")));
  }
  const key = h("input", { id: "member-private-key", type: "password", autocomplete: "off", spellcheck: "false",
    required: true, "aria-describedby": "member-key-hint" });
  const pw = h("input", { id: "member-key-password", type: "password", autocomplete: "new-password", required: true,
    minlength: String(MIN_PASSWORD) });
  // open or closed as the member left it: the page redraws every 15 s
  return h("details", { class: "member-key", "data-testid": "member-key", open: g.keyFormOpen || g.keyError ? true
    : null, ontoggle: (e) => { g.keyFormOpen = e.target.open; } },
    h("summary", null, t("gov.importKey")),
    h("form", { class: "key-form", onsubmit: (e) => {
      e.preventDefault();
      actions.importKey(key.value, pw.value);
    } },
    h("label", { for: "member-private-key" }, t("gov.privateKey")), key,
    h("label", { for: "member-key-password" }, t("gov.password")), pw,
    h("p", { class: "hint muted small", id: "member-key-hint" }, t("gov.keyHint")),
    g.keyError ? alert(g.keyError) : null,
    h("button", { type: "submit", class: "small", disabled: g.busy === "key" }, t(g.busy === "key" ? "gov.saving"
      : "gov.saveKey"))));
}

function timing(p, listing) {
  if (p.state === "open") {
    return t("gov.whenOpen", { d: duration(p.noticeDelay), until: fmt.dateTime(p.expiresAt) });
  }
  if (p.state === "queued") {
    return t("gov.whenQueued", { from: fmt.dateTime(p.executableFrom), until: fmt.dateTime(p.expiresAt) });
  }
  if (p.state === "executable") return t("gov.whenReady", { until: fmt.dateTime(p.expiresAt) });
  if (p.state === "expired") return t("gov.whenExpired", { at: fmt.dateTime(p.expiresAt) });
  return null;
}

function proposalCard(p, listing, actions) {
  const g = state.gov;
  const counted = p.approvedBy.filter((a) => a.counts);
  return h("article", { class: `proposal ${p.state}`, "data-testid": `proposal-${p.id}`,
    "aria-labelledby": `proposal-${p.id}-title` },
  h("div", { class: "row" },
    h("h3", { id: `proposal-${p.id}-title` }, t("gov.proposal", { id: p.id })),
    h("span", { class: `pill state-${p.state}`, "data-testid": `proposal-state-${p.id}` }, t(`gov.state.${p.state}`))),
  p.description ? h("p", { class: "description" }, p.description) : null,
  h("p", { class: "approvals", "data-testid": `approvals-${p.id}` },
    h("strong", null, t("gov.approvals", { n: p.approvals, m: p.required }))),
  h("ul", { class: "approvers", "data-testid": `approvers-${p.id}` }, p.approvedBy.map((a) =>
    h("li", { class: a.counts ? null : "muted" }, h("code", { class: "addr", title: a.member }, fmt.short(a.member)), " ",
      t(a.how === "signature" ? "gov.bySignature" : "gov.byTransaction"),
      a.counts ? null : [" ", t("gov.noLongerMember")]))),
  counted.length === 0 && p.approvedBy.length === 0 ? h("p", { class: "muted small" }, t("gov.noApprovals")) : null,
  h("p", { class: "muted small", "data-testid": `timing-${p.id}` }, timing(p, listing)),
  h("ol", { class: "calls", "data-testid": `calls-${p.id}` }, p.calls.map((c) => h("li", null, callWords(c)))),
  approveBox(p, listing, actions),
  g.results[p.id] ? h("p", { class: "ok-note", role: "status" }, g.results[p.id]) : null);
}

function approveBox(p, listing, actions) {
  const g = state.gov;
  const rec = g.record;
  if (!rec || !OPEN.has(p.state) || !listing.members.includes(rec.address)) return null;
  if (p.approvedBy.some((a) => a.member === rec.address && a.counts)) {
    return h("p", { class: "muted small" }, t("gov.youApproved"));
  }
  const id = `approve-password-${p.id}`;
  const pw = h("input", { id, type: "password", autocomplete: "current-password", required: true });
  return h("form", { class: "approve-form", "data-testid": `approve-${p.id}`, onsubmit: (e) => {
    e.preventDefault();
    actions.approve(p.id, pw.value);
  } },
  h("label", { for: id }, t("gov.approvePassword")),
  h("div", { class: "row" }, pw,
    h("button", { type: "submit", class: "small", disabled: g.busy === p.id },
      t(g.busy === p.id ? "gov.signing" : "gov.approve"))),
  h("p", { class: "hint muted small" }, t("gov.approveHint", { d: duration(7 * 86400) })),
  g.errors[p.id] ? alert(g.errors[p.id]) : null);
}
