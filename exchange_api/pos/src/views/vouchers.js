// The till's Vouchers view: a voucher found by its code (typed, or the link its QR code holds), what it is for and
// where it stands, checked off once (a second time says when it was used), or refunded while unused (the
// redemption's refund: the customer's points back, the unit back in stock).
import { t, lang } from "../../../wallet/src/i18n.js";
import { h } from "../../../wallet/src/dom.js";
import * as fmt from "../../../wallet/src/format.js";
import { state, isManager } from "../state.js";
import { alertBox, field } from "./common.js";

const unix = (iso) => Math.floor(Date.parse(iso) / 1000);

/** "k7qx 3mnp", "K7QX-3MNP" or the QR's link "...?voucher=K7QX-3MNP" -> "K7QX-3MNP"; null for anything else. */
export function voucherCode(text) {
  const s = String(text || "").trim();
  const m = s.match(/[?&]voucher=([A-Za-z0-9-]+)/);
  const raw = (m ? m[1] : s).replace(/[\s-]/g, "").toUpperCase();
  return /^[A-Z0-9]{8}$/.test(raw) ? `${raw.slice(0, 4)}-${raw.slice(4)}` : null;
}

export function vouchersView(actions) {
  const code = h("input", { type: "text", autocomplete: "off", spellcheck: "false", autocapitalize: "characters",
    maxlength: "300", placeholder: "K7QX-3MNP", class: "mono", value: state.voucherInput || "",
    oninput: (e) => { state.voucherInput = e.target.value; } });
  const v = state.voucher;
  return h("section", { class: "card till-vouchers", "aria-labelledby": "vouchers-title" },
    h("h1", { id: "vouchers-title", tabindex: "-1" }, t("pos.vouchersTitle")),
    h("form", { novalidate: true, onsubmit: (e) => {
      e.preventDefault();
      const found = voucherCode(code.value);
      if (!found) return actions.fail("pos.badVoucherCode", code);
      actions.findVoucher(found);
    } },
    field("voucher-code", t("pos.voucherCode"), code, t("pos.voucherCodeHint")),
    h("button", { type: "submit", class: "secondary", "data-testid": "voucher-find",
      disabled: state.busy === "voucher" }, t("pos.voucherFind"))),
    alertBox(state.error, "voucher-error"),
    v === false ? h("p", { class: "alert", role: "alert", "data-testid": "voucher-none" }, t("pos.voucherNone")) : null,
    v ? voucherCard(v, actions) : null);
}

function voucherCard(v, actions) {
  const title = (v.offer.title && (v.offer.title[lang()] || v.offer.title.en)) || "";
  const busy = state.busy === `voucher:${v.id}`;
  return h("article", { class: `voucher-card status-${v.status}`, "data-testid": "voucher-card", "data-id": v.id },
    h("p", { class: "mono voucher-code", "data-testid": "voucher-code" }, v.code),
    h("h2", null, title),
    h("p", { class: "amount" }, t("pos.voucherPaid", { n: fmt.credits(v.credits) })),
    state.checkedOff === v.id ? h("p", { class: "ok-line", "data-testid": "voucher-checked-off" },
      t("pos.voucherCheckedOff")) : null,
    h("p", { class: `voucher-status ${v.status}`, role: "status", "data-testid": "voucher-status" }, statusLine(v)),
    v.status === "valid" && state.confirmRefund !== v.id ? h("div", { class: "acts" },
      h("button", { type: "button", class: "primary", "data-testid": "voucher-check-off", disabled: busy,
        onclick: () => actions.checkOff(v.id) }, t("pos.voucherCheckOff")),
      // refunds are a manager's (a cashier's key is refused them): a cashier's till offers none
      isManager() ? h("button", { type: "button", class: "ghost", "data-testid": "voucher-refund", disabled: busy,
        onclick: () => actions.askRefundVoucher(v.id) }, t("pos.voucherRefund")) : null) : null,
    // a refund gives the points back and cannot be undone: the cashier says so a second time
    v.status === "valid" && state.confirmRefund === v.id ? h("div", { class: "acts", role: "group",
      "aria-labelledby": "voucher-refund-q" },
      h("p", { id: "voucher-refund-q" }, t("pos.voucherRefundAsk", { n: fmt.credits(v.credits) })),
      h("button", { type: "button", class: "primary", "data-testid": "voucher-refund-do", disabled: busy,
        onclick: () => actions.refundVoucher(v.id) }, t("pos.voucherRefundDo")),
      h("button", { type: "button", class: "ghost", disabled: busy, onclick: () => actions.askRefundVoucher(null) },
        t("pos.voucherRefundKeep"))) : null);
}

function statusLine(v) {
  const at = (iso) => (iso ? fmt.dateTime(unix(iso)) : "");
  if (v.status === "used") return t("pos.voucher.used", { at: at(v.usedAt) });
  if (v.status === "refunded") return t("pos.voucher.refunded", { at: at(v.endedAt) });
  return t(`pos.voucher.${v.status}`);
}
