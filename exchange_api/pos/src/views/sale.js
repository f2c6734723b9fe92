// A sale: the form (customer's code, amount, order), then the request's QR code full screen with its live status
// (server-sent events), then the receipt. Amounts are integers (credit cents) end to end (format.parseCredits).
import { t, schemeName } from "../../../wallet/src/i18n.js";
import { h } from "../../../wallet/src/dom.js";
import { qrElement } from "../../../wallet/src/qr.js";
import * as fmt from "../../../wallet/src/format.js";
import { state } from "../state.js";
import { alertBox, field, merchantName } from "./common.js";

const UINT96_MAX = (1n << 96n) - 1n;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

export function saleFormView(actions) {
  const customer = h("input", { type: "text", autocomplete: "off", spellcheck: "false", autocapitalize: "off",
    inputmode: "text", maxlength: "42", placeholder: "0x…", class: "mono" });
  const amount = h("input", { type: "text", inputmode: "decimal", autocomplete: "off", maxlength: "30",
    placeholder: "0.00", class: "num" });
  const order = h("input", { type: "text", autocomplete: "off", maxlength: "200" });
  return h("section", { class: "card sale-form", "aria-labelledby": "sale-title" },
    h("h1", { id: "sale-title", tabindex: "-1" }, t("pos.saleTitle")),
    h("form", { novalidate: true, onsubmit: (e) => {
      e.preventDefault();
      const who = customer.value.trim();
      const cents = fmt.parseCredits(amount.value);
      const label = order.value.trim();
      if (!ADDRESS.test(who)) return actions.fail("pos.badCustomer", customer);
      if (cents === null || cents <= 0n || cents > UINT96_MAX) return actions.fail("pos.badAmount", amount);
      if (!label) return actions.fail("pos.orderMissing", order);
      actions.ask(who, cents, label);
    } },
    field("customer", t("pos.customer"), customer, t("pos.customerHint")),
    h("div", { class: "pair" },
      field("amount", t("pos.amount"), amount, t("pos.amountHint")),
      field("order", t("pos.order"), order, t("pos.orderHint"))),
    alertBox(state.error, "sale-error"),
    h("button", { type: "submit", class: "primary", "data-testid": "ask", disabled: state.busy === "ask" },
      t("pos.ask"))),
    h("p", { class: "muted small" },
      t("pos.expires", { t: fmt.time(Math.floor(Date.parse(state.session.expiresAt) / 1000)) })));
}

/** The request full screen: its QR code (drawn by drawQr), amount, order, live status; then the receipt. */
export function saleScreen(actions) {
  const sale = state.sale;
  const p = sale.progress;
  const status = p ? p.status : "connecting";
  if (status === "paid") return receiptView(actions);
  const final = ["failed", "cancelled", "expired"].includes(status);
  return h("section", { class: "sale-screen", role: "dialog", "aria-modal": "true", "aria-labelledby": "scan-title",
    "data-testid": "sale-screen" },
  h("div", { class: "sale-inner" },
    h("h1", { id: "scan-title", tabindex: "-1" }, t("pos.scanTitle")),
    h("p", { class: "big", "data-testid": "sale-amount" }, t("points.credits", { n: fmt.credits(sale.credits) })),
    h("p", { class: "order", "data-testid": "sale-order" }, sale.orderLabel),
    final ? null : h("div", { class: "qr big-qr", id: "sale-qr", role: "img", "aria-label": t("pos.scanLead") }),
    final ? null : h("p", { class: "muted small" }, t("pos.scanLead")),
    final ? null : h("p", { class: "mono small break", "data-testid": "sale-code" }, t("pos.code", { id: sale.id })),
    h("p", { class: `status-line ${status}`, role: "status", "aria-live": "polite", "data-testid": "sale-status" },
      t(`pos.status.${status}`)),
    alertBox(state.error, "sale-screen-error"),
    h("div", { class: "actions" },
      final || status === "paying" ? null : h("button", { type: "button", class: "ghost", "data-testid": "cancel-sale",
        disabled: state.busy === `cancel:${sale.id}`, onclick: () => actions.cancel(sale.id) }, t("pos.cancel")),
      final ? h("button", { type: "button", class: "primary", onclick: actions.newSale }, t("pos.newSale")) : null)));
}

function receiptView(actions) {
  const sale = state.sale;
  const red = sale.progress.redemption;
  const parts = (red && red.parts) || [];
  return h("section", { class: "sale-screen paid", "aria-labelledby": "receipt-title", "data-testid": "receipt" },
    h("div", { class: "sale-inner" },
      h("h1", { id: "receipt-title", tabindex: "-1" }, t("pos.receiptTitle")),
      h("p", { class: "status-line paid", role: "status", "data-testid": "sale-status" }, t("pos.status.paid")),
      h("p", { class: "big", "data-testid": "receipt-amount" }, t("pos.receiptPaid", { n: fmt.credits(red.credits) })),
      h("p", { class: "order", "data-testid": "receipt-order" }, sale.orderLabel),
      h("p", { "data-testid": "receipt-merchant" }, t("pos.receiptTo", { merchant: merchantName(state.session.merchant) })),
      h("ul", { class: "parts", "data-testid": "receipt-parts" }, parts.map((part) => h("li", null,
        t("pos.receiptPart", { points: fmt.points(part.points), program: schemeName(part.scheme) })))),
      h("p", { class: "muted small" }, h("span", null, t("pos.receiptRef"), " "),
        h("span", { class: "mono" }, fmt.short(red.id, 10, 6)), " · ", fmt.dateTime(Math.floor(Date.now() / 1000))),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", "data-testid": "new-sale", onclick: actions.newSale },
          t("pos.newSale")))));
}

/** Draws the request's QR code once its box is in the page (the SVG is made here from the API's qrPayload, a URL
 * of this service; it is parsed as SVG, never as HTML). */
export async function drawQr() {
  const box = document.getElementById("sale-qr");
  if (!box || !state.sale || box.dataset.drawn === state.sale.id) return;
  box.replaceChildren(await qrElement(state.sale.qrPayload));
  box.dataset.drawn = state.sale.id;
}
