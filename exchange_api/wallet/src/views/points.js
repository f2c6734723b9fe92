// The resident's points: the total in credits, each program's points and rate, today's caps (views/caps.js), the
// balance check against the auditor's report (views/audit.js), and the history as sentences.
import { t, schemeName, schemeStyle, reasonLabel, ruleLabel } from "../i18n.js";
import * as fmt from "../format.js";
import { state, page, loadMoreHistory } from "../state.js";
import { h, announce, errorText, alertBox, busy } from "../ui.js";
import { capsCard } from "./caps.js";
import { auditCard } from "./audit.js";

export function pointsView() {
  const b = state.balances;
  const notice = state.notice;
  state.notice = null;
  return h("section", { class: "points", "aria-labelledby": "points-title" },
    h("h1", { id: "points-title", tabindex: "-1", class: "visually-hidden-phone" }, t("points.title")),
    notice ? h("p", { class: "notice", role: "status" }, notice) : null,
    state.loadError ? alertBox(errorText(state.loadError)) : null,
    noticesCard(),
    h("div", { class: "grid" },
      h("div", { class: "col" },
        h("div", { class: "card total" },
          h("p", { class: "label", id: "total-label" }, t("points.total")),
          h("p", { class: "big", "aria-labelledby": "total-label", "data-testid": "total-credits" },
            b ? t("points.credits", { n: fmt.credits(b.totalCredits) }) : "…"),
          h("div", { class: "row" },
            // residents read "up to date"; the ledger block is there for whoever hovers or asks
            h("span", { class: "muted small", title: b ? t("points.asOf", { n: fmt.points(b.asOfBlock) }) : "",
              "data-block": b ? String(b.asOfBlock) : "" }, b ? t("points.upToDate") : ""),
            h("button", { type: "button", class: "ghost small", onclick: async (e) => {
              const done = busy(e.currentTarget, "…");
              await page.refresh();
              done();
              announce(t("points.updated"));
            } }, t("points.refresh")))),
        h("h2", null, t("points.byProgram")),
        b && b.balances.length
          ? h("ul", { class: "schemes" }, b.balances.map(schemeCard))
          : h("p", { class: "card muted" }, b ? t("points.none") : "…"),
        capsCard(),
        auditCard()),
      h("div", { class: "col" },
        h("h2", null, t("history.title")),
        historyList(),
        state.historyMore ? h("button", { type: "button", class: "ghost wide", onclick: showMoreHistory },
          t("history.more")) : null)));
}

async function showMoreHistory() {
  try {
    await loadMoreHistory();
  } catch (exc) {
    announce(errorText(exc));
  }
  page.render();
}

/** What is coming or holding for the programmes the resident holds: rate changes waiting out their notice (the
 * value of their points will change) and paused programmes. */
function noticesCard() {
  const held = new Set(((state.balances && state.balances.balances) || []).filter((b) => fmt.big(b.points) > 0n)
    .map((b) => String(b.scheme)));
  const items = [];
  for (const x of state.scheduledRates) {
    if (!held.has(String(x.scheme))) continue;
    const info = state.schemes.get(String(x.scheme));
    items.push(h("li", { "data-testid": `notice-rate-${x.scheme}` }, t("notices.rate", {
      programme: schemeName(x.scheme), r: fmt.rate(x.rate), now: info ? fmt.rate(info.rate) : "–",
      when: fmt.dateTime(x.readyAt) })));
  }
  for (const id of held) {
    const info = state.schemes.get(id);
    if (info && info.status === "paused") {
      items.push(h("li", { "data-testid": `notice-paused-${id}` }, t("notices.paused", { programme: schemeName(id) })));
    }
  }
  return items.length ? h("section", { class: "card notices", "aria-labelledby": "notices-title", "data-testid": "notices" },
    h("h2", { id: "notices-title" }, t("notices.title")), h("ul", null, items)) : null;
}

function schemeCard(s) {
  const info = state.schemes.get(String(s.scheme));
  if (info && info.kind === "eligibility-only") return eligibilityCard(s);
  const status = info && info.status !== "active" ? t(info.status === "paused" ? "points.paused" : "points.retired") : null;
  return h("li", { class: "card scheme", "data-scheme": String(s.scheme), style: schemeStyle(s.scheme) },
    h("div", { class: "scheme-head" },
      h("span", { class: "dot", "aria-hidden": "true" }),
      h("h3", null, schemeName(s.scheme))),
    h("p", { class: "scheme-points", "data-testid": `points-${s.scheme}` }, t("points.points", { n: fmt.points(s.points) })),
    s.change && fmt.big(s.change) > 0n ? h("p", { class: "small", "data-testid": `change-${s.scheme}` },
      t("points.change", { n: fmt.value(s.change) })) : null,
    h("p", { class: "scheme-credits" }, t("points.credits", { n: fmt.credits(s.credits) })),
    h("p", { class: "muted small" }, t("points.rate", { r: fmt.rate(s.rate) })),
    status ? h("p", { class: "warn small" }, status) : null,
    expiringSoon(s));
}

const EXPIRY_WARNING_DAYS = 30;

/** In a programme whose points expire: a warning once the oldest points have 30 days or less left. */
function expiringSoon(s) {
  const x = s.expiring;
  if (!x || Number(x.daysLeft) > EXPIRY_WARNING_DAYS) return null;
  return h("p", { class: "warn small", role: "note", "data-testid": `expiring-${s.scheme}`, "data-days-left": String(x.daysLeft) },
    t("points.expiring", { n: fmt.points(x.points), date: fmt.day(x.lastDate) }));
}

/** A programme whose points count toward services (residence-permit points): no credits, no rate. */
function eligibilityCard(s) {
  return h("li", { class: "card scheme", "data-scheme": String(s.scheme), style: schemeStyle(s.scheme) },
    h("div", { class: "scheme-head" },
      h("span", { class: "dot", "aria-hidden": "true" }),
      h("h3", null, schemeName(s.scheme))),
    h("p", { class: "scheme-points", "data-testid": `points-${s.scheme}` }, t("points.points", { n: fmt.points(s.points) })),
    h("p", { class: "muted small", "data-testid": `eligibility-${s.scheme}` }, t("points.eligibilityOnly")));
}

function historyList() {
  if (!state.balances && !state.history.length) return h("p", { class: "muted" }, "…");
  if (!state.history.length) return h("p", { class: "card muted" }, t("history.empty"));
  const byTx = new Map();
  for (const item of state.history) {
    if (!byTx.has(item.txHash)) byTx.set(item.txHash, []);
    byTx.get(item.txHash).push(item);
  }
  return h("ol", { class: "history card" }, state.history.map((item) => {
    const d = describe(item, byTx);
    return h("li", { class: d.plus ? "plus" : "minus", "data-kind": item.kind },
      h("span", { class: "dot", "aria-hidden": "true", style: schemeStyle(item.scheme) }),
      h("div", { class: "what" },
        h("p", { class: "title" }, d.title),
        d.rule ? h("p", { class: "why rule" }, d.rule)
          : d.why ? h("p", { class: "why" }, t("history.reason", { label: d.why })) : null,
        h("p", { class: "muted small" },
          h("time", { datetime: new Date(item.blockTimestamp * 1000).toISOString(), title: t("history.block", { n: fmt.points(item.blockNumber) }) },
            fmt.dateTime(item.blockTimestamp)), " · ",
          t("history.balanceAfter", { n: fmt.points(item.balanceAfter) }))),
      h("span", { class: "amount", "aria-hidden": "true" }, `${d.plus ? "+" : "−"}${fmt.points(item.amount)}`));
  }));
}

/** One sentence per ledger event: which program gave or took what, and why. */
function describe(item, byTx) {
  const program = schemeName(item.scheme);
  const n = fmt.points(item.amount);
  const sameTx = byTx.get(item.txHash) || [];
  const has = (kind) => sameTx.some((x) => x.kind === kind);
  let title;
  let plus = true;
  let why = null;
  let rule = null; // the published rule a cited entry names: "<rule> · rule v3 · 20 points"
  switch (item.kind) {
    case "issued":
      title = t("history.issued", { program, n });
      if (item.rule) rule = t("history.rule", { rule: ruleLabel(item), version: item.rule.version, n });
      else if (item.reasonCode != null) why = reasonLabel(item.scheme, item.reasonCode);
      break;
    case "revoked":
      plus = false;
      title = t("history.revoked", { program, n });
      why = item.reasonCode ? reasonLabel(item.scheme, item.reasonCode) : t("history.correction");
      break;
    case "burned":
      plus = false;
      title = t(has("minted") ? "history.exchangedOut" : "history.spent", { program, n });
      break;
    case "minted":
      title = t(has("burned") ? "history.exchangedIn" : "history.refund", { program, n });
      break;
    case "moved_in":
      title = t("history.movedIn", { program, n });
      break;
    case "claimed": // credited under the identity before the resident joined, theirs since registration
      title = t("history.claimed", { program, n });
      break;
    case "moved_out":
      plus = false;
      title = t("history.movedOut", { program, n });
      break;
    case "expired": // swept from the balance by the next use of the programme's points
      plus = false;
      title = t("history.expired", { program, n });
      break;
    default:
      title = `${item.kind} ${n} · ${program}`;
  }
  return { title, plus, why, rule };
}
