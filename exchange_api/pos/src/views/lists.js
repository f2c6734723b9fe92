// The till's lists: its open requests (show the code again, cancel) and today's sales with their refunds.
import { t } from "../../../wallet/src/i18n.js";
import { h } from "../../../wallet/src/dom.js";
import * as fmt from "../../../wallet/src/format.js";
import { state, isManager } from "../state.js";
import { alertBox, field } from "./common.js";

const unix = (iso) => Math.floor(Date.parse(iso) / 1000);

export function openView(actions) {
  const rows = state.open ? state.open.data : null;
  return h("section", { class: "card", "aria-labelledby": "open-title" },
    h("div", { class: "row" }, h("h1", { id: "open-title", tabindex: "-1" }, t("pos.openTitle")),
      h("button", { type: "button", class: "ghost small", onclick: actions.loadOpen }, t("pos.reload"))),
    alertBox(state.error, "open-error"),
    rows && !rows.length ? h("p", { class: "muted" }, t("pos.openNone")) : null,
    rows ? h("ul", { class: "till-list", "data-testid": "open-list" }, rows.map((r) => h("li", { "data-id": r.id },
      h("div", { class: "what" },
        h("strong", { class: "amount" }, fmt.credits(r.credits)),
        h("span", null, r.orderLabel || ""),
        h("span", { class: "muted small" }, fmt.time(unix(r.createdAt)))),
      h("div", { class: "acts" },
        h("button", { type: "button", class: "secondary", onclick: () => actions.show(r) }, t("pos.show")),
        h("button", { type: "button", class: "ghost", disabled: state.busy === `cancel:${r.id}`,
          onclick: () => actions.cancel(r.id) }, t("pos.cancel")))))) : null);
}

export function todayView(actions) {
  const today = state.today;
  const sales = today ? today.sales : null;
  const paid = sales ? sales.filter((s) => s.status === "confirmed") : [];
  const total = paid.reduce((sum, s) => sum + fmt.big(s.credits) - fmt.big(s.refundedCredits), 0n);
  return h("section", { class: "card", "aria-labelledby": "today-title" },
    h("div", { class: "row" }, h("h1", { id: "today-title", tabindex: "-1" }, t("pos.todayTitle")),
      h("button", { type: "button", class: "ghost small", onclick: actions.loadToday }, t("pos.reload"))),
    sales ? h("p", { class: "muted", "data-testid": "today-total" },
      t("pos.todayTotal", { n: paid.length, c: fmt.credits(total) })) : null,
    state.refunding ? null : alertBox(state.error, "today-error"),
    sales && !sales.length ? h("p", { class: "muted" }, t("pos.todayNone")) : null,
    sales ? h("ul", { class: "till-list", "data-testid": "today-list" }, sales.map((s) => saleRow(s, actions))) : null);
}

function saleRow(s, actions) {
  const left = fmt.big(s.credits) - fmt.big(s.refundedCredits);
  const label = s.orderLabel || "";
  const open = state.refunding === s.id;
  return h("li", { "data-id": s.id },
    h("div", { class: "what" },
      h("strong", { class: "amount" }, fmt.credits(s.credits)),
      h("span", null, label),
      h("span", { class: "muted small" }, fmt.time(unix(s.createdAt)), " · ", t(`pos.sale.${s.status}`),
        fmt.big(s.refundedCredits) > 0n ? [" · ", t("pos.refunded", { n: fmt.credits(s.refundedCredits) })] : null)),
    s.status === "confirmed" && left > 0n && !open && isManager() ? h("div", { class: "acts" },
      h("button", { type: "button", class: "ghost", onclick: () => actions.openRefund(s.id) }, t("pos.refund"))) : null,
    open ? refundForm(s, left, actions) : null,
    state.refundResult[s.id] ? h("p", { role: "status", class: "ok-line", "data-testid": "refund-result" },
      state.refundResult[s.id]) : null);
}

function refundForm(s, left, actions) {
  const amount = h("input", { type: "text", inputmode: "decimal", autocomplete: "off", maxlength: "30", class: "num",
    value: fmt.credits(left).replace(/[^\d.]/g, "") });
  return h("form", { class: "refund-form", novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    const cents = fmt.parseCredits(amount.value);
    if (cents === null || cents <= 0n) return actions.fail("pos.badAmount", amount);
    if (cents > left) return actions.fail("pos.refundMax", amount, { n: fmt.credits(left) });
    actions.refund(s.id, cents);
  } },
  field(`refund-${s.id.slice(2, 10)}`, t("pos.refundAmount"), amount, t("pos.refundMax", { n: fmt.credits(left) })),
  alertBox(state.error, "refund-error"),
  h("div", { class: "inline" },
    h("button", { type: "submit", class: "secondary", "data-testid": "refund-do", disabled: state.busy === `refund:${s.id}` },
      t("pos.refund")),
    h("button", { type: "button", class: "ghost", onclick: actions.closeRefund }, t("pos.cancel"))));
}
