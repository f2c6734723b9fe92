// Vouchers: an offer of the Shops tab redeemed for a voucher, and the resident's vouchers with their codes.
// "Get it for N credits" asks for the key's password once: the key signs in (a ResidentLogin, if no session is
// open), the API keeps one unit of the offer (POST /v1/residents/{address}/vouchers: sold out is said before
// anything is signed), the key signs the one RedemptionConsent for the offer's price after it is checked against
// the offer, and the approval waits for the ledger. The voucher's code and QR code are shown once paid for; the
// shop's till checks it off.
import { t, lang } from "../i18n.js";
import * as fmt from "../format.js";
import { api, ApiError } from "../api.js";
import * as session from "../session.js";
import { state, page } from "../state.js";
import { consentMatches } from "../typed_data.js";
import { qrElement } from "../qr.js";
import { h, announce, errorText, alertBox, field, passwordInput, busy, unlockOrExplain,
  signInResident } from "../ui.js";

export const vouchers = { list: null, getting: null, done: null, loading: false, soldOut: null, loginOpen: false };

function named(names) {
  return (names && (names[lang()] || names.en || names.zh)) || "";
}

// The open form: one element kept across renders (the page redraws on its own), so what is typed stays.
let formBox = null; // { id, el }

/** The offer card's action: the button, or the open form that signs for it; `reload` reads the offers again (their
 * stock) after a voucher is got or the offer is found sold out. */
export function getAction(o, reload) {
  if (vouchers.getting !== o.id) {
    if (formBox && formBox.id === o.id) formBox = null;
    return h("button", { type: "button", class: "secondary", "data-testid": "offer-get",
      onclick: () => { vouchers.getting = o.id; vouchers.soldOut = null; page.render();
        document.getElementById("voucher-password")?.focus(); } },
    t("vouchers.get", { n: fmt.credits(o.price) }));
  }
  if (formBox && formBox.id === o.id) return formBox.el;
  const pw = passwordInput();
  const error = h("div", { class: "form-error" });
  const go = h("button", { type: "submit", class: "primary", "data-testid": "voucher-sign" },
    t("vouchers.sign", { n: fmt.credits(o.price) }));
  const el = h("form", { class: "voucher-form", novalidate: true, "data-testid": "voucher-form", onsubmit: (e) => {
    e.preventDefault();
    getVoucher(o, pw, go, error, reload);
  } },
  h("p", { class: "small" }, t("vouchers.consent", { n: fmt.credits(o.price), merchant: named(o.merchant.name) })),
  field("voucher-password", t("pay.password"), pw),
  error,
  h("div", { class: "actions" }, go,
    h("button", { type: "button", class: "ghost", onclick: () => { vouchers.getting = null; page.render(); } },
      t("pay.dismiss"))));
  formBox = { id: o.id, el };
  return el;
}

async function getVoucher(o, pw, button, error, reload) {
  error.replaceChildren();
  const done = busy(button, t("pay.signing"));
  let wallet = await unlockOrExplain(pw, error, done);
  if (!wallet) return;
  const address = state.record.address;
  let reserved = null;
  try {
    if (!session.token(address)) await session.signIn(wallet);
    reserved = await api.reserveVoucher(address, o.id, session.token(address));
    const req = reserved.request;
    // what is signed is what was shown: this resident, this offer's shop and price
    if (!req.typedData || !consentMatches(req, address) || fmt.big(req.credits) !== fmt.big(o.price) ||
      req.merchant.toLowerCase() !== o.merchant.address.toLowerCase()) {
      throw new Error(t("err.mismatch"));
    }
    const { EIP712Domain, ...types } = req.typedData.types;
    const signature = await wallet.signTypedData(req.typedData.domain, types, req.typedData.message);
    wallet = null;
    const paid = await api.approve(req.id, signature, req.typedData.message.parts);
    vouchers.done = reserved.id;
    reserved = null;
    vouchers.getting = null;
    await Promise.all([loadVouchers(), reload()]); // its stock went down by one
    announce(paid.status === "confirmed" ? t("vouchers.got", { title: named(o.title) }) : t("vouchers.pending"));
    page.render();
    document.querySelector("[data-testid=voucher]")?.focus();
    await page.refreshUntil(paid.blockNumber);
  } catch (exc) {
    wallet = null;
    done();
    if (reserved) {
      // nothing signed or nothing sent: the unit goes back at once rather than at the reservation's deadline
      api.cancelVoucher(address, reserved.id, session.token(address)).catch(() => {});
    }
    error.replaceChildren(alertBox(exc instanceof ApiError ? errorText(exc) : exc.message));
    announce(error.textContent);
    if (exc instanceof ApiError && exc.code === "offer_changed") reload(); // its new price, on its card
    if (exc instanceof ApiError && exc.code === "offer_sold_out") {
      // the offer leaves the list (read again): what happened is said above it, where it stays
      vouchers.getting = null;
      vouchers.soldOut = `${named(o.title)}: ${errorText(exc)}`;
      await reload();
      document.querySelector("[data-testid=voucher-refused]")?.focus();
    }
  }
}

export async function loadVouchers() {
  const address = state.record.address;
  const tok = session.token(address);
  if (!tok) return;
  vouchers.loading = true;
  try {
    vouchers.list = (await api.vouchers(address, tok)).data.filter((v) => v.status !== "released" && v.status !== "expired");
  } catch (exc) {
    if (exc instanceof ApiError && (exc.status === 401 || exc.status === 403)) session.clear();
  }
  vouchers.loading = false;
  page.render();
}

// The sign-in form for the list: kept across renders, so a refresh never clears what is typed.
let loginBox = null;

function loginForm() {
  if (loginBox) return loginBox;
  const pw = passwordInput();
  const error = h("div", { class: "form-error" });
  const button = h("button", { type: "submit", class: "secondary", "data-testid": "vouchers-login" },
    t("vouchers.login"));
  loginBox = h("form", { class: "card login-form", novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    return signInResident(pw, error, button, async (done) => {
      done();
      loginBox = null;
      await loadVouchers();
    });
  } },
  h("p", { class: "muted small" }, t("vouchers.loginHint")),
  field("vouchers-login-password", t("pay.loginPassword"), pw),
  error,
  h("div", { class: "actions" }, button));
  return loginBox;
}

/** "My vouchers" (read again whenever the Shops tab is shown, main.js): each with its offer, shop, status and, once paid for, its code and QR code for the till. */
export function vouchersSection() {
  const signedIn = session.token(state.record.address);
  if (signedIn && vouchers.list === null && !vouchers.loading) loadVouchers();
  return h("section", { class: "my-vouchers", "aria-labelledby": "vouchers-title" },
    vouchers.soldOut ? h("div", { class: "alert", role: "alert", tabindex: "-1", "data-testid": "voucher-refused" },
      h("p", null, vouchers.soldOut)) : null,
    h("h2", { id: "vouchers-title" }, t("vouchers.title")),
    vouchers.list === null ? (signedIn ? h("p", { class: "card muted" }, "…") : vouchers.loginOpen ? loginForm()
      : h("button", { type: "button", class: "ghost wide", "data-testid": "vouchers-open", onclick: () => {
        vouchers.loginOpen = true;
        page.render();
        document.getElementById("vouchers-login-password")?.focus();
      } }, t("vouchers.login")))
      : vouchers.list.length ? h("ul", { class: "vouchers", "data-testid": "vouchers" }, vouchers.list.map(voucherCard))
        : h("p", { class: "card muted", "data-testid": "vouchers-none" }, t("vouchers.none")));
}

function voucherCard(v) {
  const qr = h("div", { class: "voucher-qr", "data-qr": v.qrPayload || "" });
  if (v.qrPayload) qrElement(v.qrPayload).then((svg) => qr.replaceChildren(svg)).catch(() => {});
  const at = (iso) => (iso ? fmt.dateTime(Math.floor(Date.parse(iso) / 1000)) : "");
  const status = v.status === "used" ? t("vouchers.status.used", { at: at(v.usedAt) })
    : v.status === "refunded" ? t("vouchers.status.refunded", { at: at(v.endedAt) }) : t(`vouchers.status.${v.status}`);
  return h("li", { class: `card voucher ${v.status}`, "data-testid": "voucher", "data-voucher": v.id,
    tabindex: vouchers.done === v.id ? "-1" : null },
  h("h3", null, named(v.offer.title)),
  h("p", { class: "small muted" }, named(v.merchant.name), " · ", t("shops.price", { n: fmt.credits(v.credits) })),
  h("p", { class: `voucher-status ${v.status}`, "data-testid": "voucher-status" }, status),
  v.code && v.status === "valid" ? [qr,
    h("p", { class: "voucher-code mono", "data-testid": "voucher-code" }, v.code),
    h("p", { class: "small muted" }, t("vouchers.show"))] : null);
}
