// A statement for a date range: the shop's confirmed sales made in it (what the ledger confirmed, as the API lists
// them), their totals, and the same as a CSV file to download (made here, in the page: nothing leaves the origin).
import { t } from "../../../wallet/src/i18n.js";
import { h } from "../../../wallet/src/dom.js";
import * as fmt from "../../../wallet/src/format.js";
import { state } from "../state.js";
import { alertBox, field } from "./common.js";

const CSV_HEADER = ["created_at_utc", "redemption_id", "order", "credits", "refunded", "net", "tx_hash", "block"];

function isoDay(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** Credit cents as a plain decimal ("1234.50"): no grouping, so a spreadsheet reads it as a number. */
function plain(cents) {
  const v = fmt.big(cents);
  const a = v < 0n ? -v : v;
  return `${v < 0n ? "-" : ""}${a / 100n}.${(a % 100n).toString().padStart(2, "0")}`;
}

/** One CSV field: quoted when it must be, and text a spreadsheet would run as a formula made inert. */
function cell(value) {
  let text = value == null ? "" : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function totals(rows) {
  let credits = 0n;
  let refunded = 0n;
  for (const r of rows) {
    credits += fmt.big(r.credits);
    refunded += fmt.big(r.refundedCredits);
  }
  return { count: rows.length, credits, refunded, net: credits - refunded };
}

export function statementCsv(rows) {
  const lines = [CSV_HEADER.join(",")];
  for (const r of [...rows].reverse()) { // oldest first, as a statement reads
    const net = fmt.big(r.credits) - fmt.big(r.refundedCredits);
    lines.push([r.createdAt, r.id, r.orderLabel || "", plain(r.credits), plain(r.refundedCredits), plain(net),
      r.txHash || "", r.blockNumber ?? ""].map(cell).join(","));
  }
  const sum = totals(rows);
  lines.push(["total", sum.count, "", plain(sum.credits), plain(sum.refunded), plain(sum.net), "", ""].map(cell).join(","));
  return lines.join("\r\n") + "\r\n";
}

export function statementView(actions) {
  const today = new Date();
  const first = new Date(today.getFullYear(), today.getMonth(), 1);
  const st = state.statement;
  const from = h("input", { type: "date", value: st ? st.from : isoDay(first), max: isoDay(today), required: true });
  const to = h("input", { type: "date", value: st ? st.to : isoDay(today), max: isoDay(today), required: true });
  const sum = st ? totals(st.rows) : null;
  return h("section", { class: "card", "aria-labelledby": "statement-title" },
    h("h1", { id: "statement-title", tabindex: "-1" }, t("pos.statementTitle")),
    h("form", { novalidate: true, class: "statement-form", onsubmit: (e) => {
      e.preventDefault();
      if (!from.value || !to.value || from.value > to.value) return actions.fail("pos.badRange", from);
      actions.statement(from.value, to.value);
    } },
    h("div", { class: "pair even" }, field("statement-from", t("pos.from"), from), field("statement-to", t("pos.to"), to)),
    alertBox(state.error, "statement-error"),
    h("button", { type: "submit", class: "secondary wide", "data-testid": "statement-show",
      disabled: state.busy === "statement" }, t("pos.statementShow"))),
    st ? h("dl", { class: "facts", "data-testid": "statement-totals" },
      h("div", { class: "fact" }, h("dt", null, t("pos.statementSales")), h("dd", null, String(sum.count))),
      h("div", { class: "fact" }, h("dt", null, t("pos.statementGross")), h("dd", null, fmt.credits(sum.credits))),
      h("div", { class: "fact" }, h("dt", null, t("pos.statementRefunded")), h("dd", null, fmt.credits(sum.refunded))),
      h("div", { class: "fact" }, h("dt", null, t("pos.statementNet")), h("dd", null, fmt.credits(sum.net)))) : null,
    st ? h("button", { type: "button", class: "primary", "data-testid": "statement-csv", onclick: () => {
      const link = h("a", { href: URL.createObjectURL(new Blob([st.csv], { type: "text/csv;charset=utf-8" })),
        download: `citypoints-statement-${st.from}-${st.to}.csv` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    } }, t("pos.statementCsv")) : null);
}
