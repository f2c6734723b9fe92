// The glance view's three parts: node and indexer health, the programmes (status, rate, supply, one bar plot),
// and clearing (periods, and statements with their net positions and settlement states once an auditor key is
// given). Every number is formatted by the wallet's format.js from the API's integers.
import { t, has, lang, schemeName, schemeStyle, errorWords } from "../../../wallet/src/i18n.js";
import * as fmt from "../../../wallet/src/format.js";
import { ApiError } from "../../../wallet/src/api.js";
import { h } from "../../../wallet/src/dom.js";
import { state } from "../state.js";
import { bars, columns } from "./chart.js";

/** A failure as a sentence: known API codes have their own, anything else names its code (i18n.errorWords). */
export function failure(exc) {
  return errorWords(exc instanceof ApiError ? exc : { name: exc && exc.name });
}

const alert = (exc) => h("p", { class: "alert", role: "alert" }, failure(exc));

function fact(label, value, testid) {
  return h("div", { class: "fact" }, h("dt", null, label), h("dd", { "data-testid": testid }, value));
}

export function healthView() {
  const r = state.ready;
  const ix = state.indexer || (r && r.indexer);
  const ok = r && r.status === "ready";
  return h("section", { class: "card health", "aria-labelledby": "health-title", "data-testid": "health" },
    h("div", { class: "row" },
      h("h2", { id: "health-title" }, t("health.title")),
      r ? h("span", { class: `pill ${ok ? "ok" : "bad"}`, "data-testid": "ready" },
        t(ok ? "health.ready" : "health.unavailable")) : null),
    state.readyError ? alert(state.readyError) : null,
    ix ? h("dl", { class: "facts" },
      fact(t("health.head"), fmt.points(ix.head), "head-block"),
      state.node ? fact(t("health.blockAge"), t("health.seconds", { n: fmt.points(state.node.blockAgeSeconds) }),
        "block-age") : null,
      fact(t("health.indexed"), fmt.points(ix.block), "indexed-block"),
      fact(t("health.lag"), t("health.lagBlocks", { n: fmt.points(ix.lagBlocks) }), "indexer-lag")) :
      h("p", { class: "muted" }, t("console.loading")),
    r && r.checks ? h("p", { class: "muted small" }, t("health.checks"), ": ",
      Object.entries(r.checks).map(([k, v], i) => [i ? " · " : "", `${t(`health.check.${k}`)} ${v}`])) : null,
    state.readAt ? h("p", { class: "muted small" },
      t("health.readAt", { t: state.readAt.toLocaleTimeString(document.documentElement.lang) })) : null);
}

export function schemesView() {
  const supply = new Map(((state.supply && state.supply.data) || []).map((s) => [String(s.scheme), s]));
  const rows = state.schemes.map((s) => ({ ...s, credits: supply.has(String(s.scheme))
    ? fmt.big(supply.get(String(s.scheme)).credits) : 0n }));
  const scheduled = (state.rates && state.rates.scheduled) || [];
  return h("section", { class: "card schemes-card", "aria-labelledby": "schemes-title", "data-testid": "schemes" },
    h("div", { class: "row" },
      h("h2", { id: "schemes-title" }, t("schemes.title")),
      state.supply ? h("span", { class: "muted small" }, t("console.asOf", { n: fmt.points(state.supply.asOfBlock) }))
        : null),
    state.loadError ? alert(state.loadError) : null,
    rows.length ? [
      h("div", { class: "scroll" }, h("table", null,
        h("thead", null, h("tr", null, ["schemes.programme", "schemes.status", "schemes.rate", "schemes.supply",
          "schemes.worth"].map((k, i) => h("th", { scope: "col", class: i > 1 ? "amount" : null }, t(k))))),
        h("tbody", null, rows.map((s) => h("tr", { "data-testid": `scheme-${s.scheme}` },
          h("th", { scope: "row" }, h("span", { class: "dot", "aria-hidden": "true", style: schemeStyle(s.scheme) }), " ",
            schemeName(s.scheme)),
          h("td", null, h("span", { class: `status ${s.status}` }, t(`status.${s.status}`))),
          h("td", { class: "amount" }, s.rate ? fmt.rate(s.rate) : "–"),
          h("td", { class: "amount" }, fmt.points(s.totalSupply)),
          h("td", { class: "amount" }, fmt.credits(s.credits))))))),
      bars(rows.map((s) => ({ label: schemeName(s.scheme), value: s.credits, text: fmt.credits(s.credits),
        style: schemeStyle(s.scheme) })), t("schemes.chart")),
    ] : h("p", { class: "muted" }, state.readAt ? t("schemes.none") : t("console.loading")),
    scheduled.length ? [h("h3", null, t("schemes.scheduled")), h("ul", { "data-testid": "scheduled" },
      scheduled.map((x) => h("li", null, t("schemes.scheduledItem", { programme: schemeName(x.scheme),
        r: fmt.rate(x.rate), when: fmt.dateTime(x.readyAt), id: x.proposalId }))))] : null);
}

export function clearingView(actions) {
  return h("section", { class: "card clearing", "aria-labelledby": "clearing-title", "data-testid": "clearing" },
    h("h2", { id: "clearing-title" }, t("clearing.title")),
    h("h3", null, t("clearing.periods")),
    h("ul", { class: "periods", "data-testid": "periods" }, [...state.periods].reverse().map((p) =>
      h("li", { class: p.state }, p.state === "open" ? t("clearing.periodOpen", { n: p.period })
        : t("clearing.periodClosed", { n: p.period, when: fmt.dateTime(p.closedAt) })))),
    h("h3", null, t("clearing.statements")),
    statementsTable(),
    keyForm(actions));
}

function keyForm(actions) {
  const input = h("input", { id: "auditor-key", type: "password", autocomplete: "off", spellcheck: "false",
    value: state.auditorKey, "aria-describedby": "auditor-key-hint",
    oninput: (e) => { state.auditorKey = e.target.value.trim(); } });
  return h("form", { class: "key-form", onsubmit: (e) => {
    e.preventDefault();
    actions.showStatements(input.value.trim());
  } },
  h("label", { for: "auditor-key" }, t("clearing.keyLabel")),
  h("div", { class: "row" }, input, h("button", { type: "submit", class: "small" }, t("clearing.show"))),
  h("p", { class: "hint muted small", id: "auditor-key-hint" }, t("clearing.keyHint")));
}

function statementsTable() {
  if (state.statementsError) return alert(state.statementsError);
  if (!state.statements) return null;
  if (!state.statements.length) return h("p", { class: "muted" }, t("clearing.none"));
  return h("div", { class: "scroll" }, h("table", { "data-testid": "statements" },
    h("thead", null, h("tr", null, ["clearing.period", "clearing.between", "clearing.net", "clearing.settlement"]
      .map((k, i) => h("th", { scope: "col", class: i === 2 ? "amount" : null }, t(k))))),
    h("tbody", null, state.statements.map((s) => h("tr", { "data-testid": `statement-${s.statementId}` },
      h("td", null, String(s.period)),
      h("td", null, s.kind === "merchant"
        ? t("clearing.merchantPair", { programme: schemeName(s.scheme), merchant: merchantName(s.merchant) })
        : t("clearing.issuerPair", { a: schemeName(s.schemeA), b: schemeName(s.schemeB) })),
      h("td", { class: "amount" }, fmt.credits(s.amount)),
      h("td", null, h("span", { class: `status settle-${s.settlement}` }, t(`settle.${s.settlement}`))))))));
}

/** Points issued and redeemed a day over the last 14 days (all programmes), one inline SVG plot. */
export function dailyView() {
  const days = (state.daily || []).map((d) => ({ day: d.day, issued: fmt.big(d.issued), redeemed: fmt.big(d.redeemed) }));
  const total = (k) => days.reduce((sum, d) => sum + d[k], 0n);
  const series = [
    { key: "issued", label: t("daily.issued"), colour: "s1", text: (v) => fmt.points(v) },
    { key: "redeemed", label: t("daily.redeemed"), colour: "s3", text: (v) => fmt.points(v) },
  ];
  return h("section", { class: "card daily-card", "aria-labelledby": "daily-title", "data-testid": "daily" },
    h("h2", { id: "daily-title" }, t("daily.title")),
    state.healthError ? alert(state.healthError) : null,
    days.length ? [
      columns(days, series, t("daily.chart")),
      h("ul", { class: "legend" }, series.map((s) => h("li", null,
        h("span", { class: `dot ${s.colour}`, "aria-hidden": "true" }), " ",
        t("daily.total", { what: s.label, n: fmt.points(total(s.key)) })))),
    ] : h("p", { class: "muted" }, t("console.loading")));
}

/** The auditors' latest attestation on the ledger: the report's hash and balances root, the blocks it covers and
 * how many have come since. */
export function auditView() {
  const a = state.attestation;
  return h("section", { class: "card audit-card", "aria-labelledby": "audit-title", "data-testid": "audit" },
    h("h2", { id: "audit-title" }, t("audit.title")),
    state.healthError ? alert(state.healthError) : null,
    a === undefined ? h("p", { class: "muted" }, t("console.loading"))
      : a === null ? h("p", { class: "muted", "data-testid": "audit-none" }, t("audit.none"))
        : [
          h("p", { "data-testid": "audit-attested" }, t("audit.attested",
            { id: a.id, from: fmt.points(a.fromBlock), to: fmt.points(a.toBlock) })),
          h("dl", { class: "facts" },
            fact(t("audit.inBlock"), fmt.points(a.block), "audit-block"),
            fact(t("audit.since"), fmt.points(a.blocksSince), "audit-since")),
          h("p", { class: "muted small hashes" },
            t("audit.by"), " ", h("code", { title: a.auditor, "data-testid": "audit-auditor" }, fmt.short(a.auditor)),
            " · ", t("audit.report"), " ", h("code", { title: a.reportHash, "data-testid": "audit-report" },
              fmt.short(a.reportHash)),
            " · ", t("audit.root"), " ", h("code", { title: a.merkleRoot, "data-testid": "audit-root" },
              fmt.short(a.merkleRoot))),
          h("p", { class: "muted small" }, t("audit.verify")),
        ]);
}

/** Residents' objections to uses of their personal data (the identity-use trail): who used it, why, when. */
export function objectionsView() {
  const o = state.objections;
  const purpose = (p) => (p && has(`objections.purpose.${p}`) ? t(`objections.purpose.${p}`) : String(p || "?"));
  return h("section", { class: "card objections-card", "aria-labelledby": "objections-title",
    "data-testid": "objections" },
  h("h2", { id: "objections-title" }, t("objections.title")),
  !o ? h("p", { class: "muted" }, t("console.loading"))
    : !o.data.length ? h("p", { class: "muted", "data-testid": "objections-none" }, t("objections.none"))
      : [
        h("p", { "data-testid": "objections-count" }, t(o.has_more ? "objections.countMore" : "objections.count",
          { n: o.data.length })),
        h("ul", { class: "objections" }, o.data.map((x) => h("li", { "data-testid": "objection",
          "data-entry": String(x.entryId) },
        h("strong", null, purpose(x.purpose)), " · ",
        h("span", { title: x.actor || "" }, x.actorName || (x.actor ? fmt.short(x.actor) : "?")), " · ",
        x.usedAt ? fmt.dateTime(x.usedAt) : "?",
        h("span", { class: "muted small" }, " ", t("objections.entry", { id: x.entryId, block: fmt.points(x.block) })),
        x.byTheEntrysResident ? null : h("span", { class: "muted small" }, " ", t("objections.notTheResident")))))],
  h("p", { class: "muted small" }, t("objections.why")));
}

/** A merchant's published name in the page's language (the other language, else its short address). */
function merchantName(address) {
  const x = state.merchants && state.merchants.data.find((m) => m.address.toLowerCase() === address.toLowerCase());
  const named = x && (lang() === "zh" ? x.nameZh || x.nameEn : x.nameEn || x.nameZh);
  return named || fmt.short(address);
}

/** Merchants by their status on the ledger, with the suspended ones named. */
export function merchantsView() {
  const m = state.merchants;
  const name = (x) => merchantName(x.address);
  const suspended = m ? m.data.filter((x) => x.status === "suspended") : [];
  return h("section", { class: "card merchants-card", "aria-labelledby": "merchants-title",
    "data-testid": "merchants" },
  h("h2", { id: "merchants-title" }, t("merchants.title")),
  !m ? h("p", { class: "muted" }, t("console.loading"))
    : !m.data.length ? h("p", { class: "muted" }, t("merchants.none"))
      : [
        h("dl", { class: "facts" },
          fact(t("merchants.active"), fmt.points(m.counts.active), "merchants-active"),
          fact(t("merchants.suspended"), fmt.points(m.counts.suspended), "merchants-suspended")),
        suspended.length ? [h("h3", null, t("merchants.suspendedList")),
          h("ul", { "data-testid": "merchants-suspended-list" }, suspended.map((x) => h("li", { title: x.address },
            name(x))))] : null,
      ]);
}

/** Points issued to people who have not joined yet, held on chain until their registration takes them. */
export function holdingsView() {
  const x = state.holdings;
  return h("section", { class: "card holdings-card", "aria-labelledby": "holdings-title", "data-testid": "holdings" },
    h("h2", { id: "holdings-title" }, t("holdings.title")),
    !x ? h("p", { class: "muted" }, t("console.loading"))
      : !x.people ? h("p", { class: "muted", "data-testid": "holdings-none" }, t("holdings.none"))
        : h("dl", { class: "facts" },
          fact(t("holdings.people"), fmt.points(x.people), "holdings-people"),
          x.totals.map((row) => fact(schemeName(row.scheme), fmt.points(row.points), `holdings-scheme-${row.scheme}`))),
    h("p", { class: "muted small" }, t("holdings.why")));
}
