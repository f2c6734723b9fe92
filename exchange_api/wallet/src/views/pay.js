// Paying a merchant: a request opened by its code, link or QR (a phone's camera app, or the wallet's own camera:
// scan.js), or picked from the resident's open requests (listed once they sign in), planned in the resident's
// spending order (order.js), summarised, checked against the RedemptionConsent it asks for, and approved by signing it.
import { t, lang, schemeName } from "../i18n.js";
import * as fmt from "../format.js";
import { api, ApiError } from "../api.js";
import * as session from "../session.js";
import { state, page, loadWaiting } from "../state.js";
import { consentMatches } from "../typed_data.js";
import { spendingOrder, chosen } from "../order.js";
import { startScanning, requestFromScan, CameraProblem } from "../scan.js";
import { h, announce, errorText, alertBox, field, passwordInput, busy, unlockOrExplain,
  signInResident } from "../ui.js";
import { nav } from "./frame.js";

export function payView() {
  // the whole page drawn anew (a late answer, the language switched): an open camera stays open, in the new frame
  if (scanner) queueMicrotask(replayScanner);
  return h("section", { class: "pay", "aria-labelledby": "pay-title" },
    h("h1", { id: "pay-title", tabindex: "-1" }, t("pay.title")),
    h("div", { id: "pay-body" }, payBody()));
}

/** "rrq_x", a wallet link "...?request=rrq_x" or the QR payload "citypoints:redeem?request=rrq_x&api=..." -> "rrq_x" */
export function requestIdFrom(text) {
  const s = String(text || "").trim();
  const m = s.match(/[?&]request=([A-Za-z0-9_-]+)/);
  const id = m ? m[1] : s;
  return /^rrq_[A-Za-z0-9_-]{4,80}$/.test(id) ? id : null;
}

export async function openRequest(text) {
  state.payResult = null;
  state.requestError = null;
  state.scanError = null;
  const id = requestIdFrom(text);
  if (!id) {
    state.request = null;
    state.requestError = t("err.requestCode");
    renderPay();
    return;
  }
  try {
    const req = await api.request(id, chosen() ? spendingOrder() : null);
    state.request = req;
    state.requestError = statusProblem(req);
  } catch (exc) {
    state.request = null;
    state.requestError = errorText(exc);
  }
  if (state.view !== "pay") page.show("pay");
  else renderPay();
  const target = document.querySelector(".request-card h2") || document.querySelector(".pay .alert");
  if (target) {
    target.setAttribute("tabindex", "-1");
    target.focus();
  }
}

/** Redraws the list of open requests (and the badge on the tab) without touching what is typed elsewhere. */
export function renderWaiting() {
  const box = document.getElementById("waiting");
  const signedIn = state.record && session.token(state.record.address);
  if (box && !(!signedIn && box.contains(loginBox))) box.replaceChildren(waitingList());
  const tabs = document.querySelector("nav.tabs");
  if (tabs) tabs.replaceWith(nav());
}

/** Every second: the expiry countdowns; an open request that runs out is refused there and then. */
export function tickCountdowns() {
  const now = Math.floor(Date.now() / 1000);
  for (const el of document.querySelectorAll("[data-deadline]")) {
    const deadline = Number(el.getAttribute("data-deadline"));
    el.textContent = t("pay.expiresIn", { time: fmt.dateTime(deadline), left: leftText(deadline - now) });
    if (deadline <= now && state.request && !state.requestError) {
      state.requestError = t("err.expired");
      renderPay();
      announce(state.requestError);
    }
  }
}

// The sign-in form for the list: one element kept across renders, so a refresh never clears what is typed.
let loginBox = null;

/** The key was removed: the next resident gets a new, empty sign-in form. */
export function dropLoginForm() {
  loginBox = null;
}

function loginForm() {
  if (loginBox) return loginBox;
  const pw = passwordInput();
  const error = h("div", { class: "form-error" });
  const button = h("button", { type: "submit", class: "secondary", "data-testid": "login" }, t("pay.login"));
  loginBox = h("form", { class: "card login-form", novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    return signInResident(pw, error, button, async (done) => {
      done();
      await loadWaiting();
      renderWaiting();
    });
  } },
  h("p", { class: "muted small" }, t("pay.loginHint")),
  field("login-password", t("pay.loginPassword"), pw),
  error,
  h("div", { class: "actions" }, button));
  return loginBox;
}

/** Why this request cannot be signed, or null. */
function statusProblem(req) {
  if (req.status === "approved") return t("err.used");
  if (req.status === "cancelled") return t("err.cancelled");
  if (req.status === "expired" || fmt.big(req.deadline) * 1000n <= BigInt(Date.now())) return t("err.expired");
  if (req.resident.toLowerCase() !== state.record.address.toLowerCase()) return t("err.otherResident");
  if (!req.typedData && req.planError) return errorText(new ApiError(422, req.planError.code, req.planError.message));
  if (!consentMatches(req, state.record.address)) return t("err.mismatch");
  return null;
}

function renderPay() {
  const body = document.getElementById("pay-body");
  if (body) body.replaceChildren(...payBody());
  replayScanner();
}

// The camera while it scans: its video element is kept across redraws of the pay view, the card around it drawn
// with each (so it speaks the language of the moment). Leaving the pay view closes it (closeScanner).
let scanner = null;

function replayScanner() {
  if (scanner) scanner.video.play().catch(() => {});  // moved in the page: a video taken out and put back pauses
}

function scannerCard() {
  scanner.video.setAttribute("aria-label", t("scan.video"));
  return h("section", { class: "card scanner", "aria-labelledby": "scan-title", "data-testid": "scanner" },
    h("h2", { id: "scan-title", tabindex: "-1" }, t("scan.title")),
    h("p", { class: "muted small" }, t("scan.hint")),
    h("div", { class: "scan-frame" }, scanner.video),
    h("div", { class: "actions" }, h("button", { type: "button", class: "ghost", "data-testid": "scan-stop",
      onclick: () => { closeScanner(); renderPay(); } }, t("scan.stop"))));
}

async function openScanner() {
  if (scanner) return;
  state.scanError = null;
  const video = h("video", { class: "scan-video", "aria-label": t("scan.video"), "data-testid": "scan-video" });
  const mine = { video, stop: null };
  scanner = mine;
  renderPay();
  document.getElementById("scan-title")?.focus();
  try {
    const stop = await startScanning(video, (text) => {
      closeScanner();
      const id = requestFromScan(text);
      if (!id) {
        state.scanError = t("scan.foreign");
        renderPay();
        announce(state.scanError);
        return;
      }
      state.codeInput = id;
      state.fromLink = false;
      openRequest(id);
    });
    if (scanner === mine) mine.stop = stop;
    else stop();  // closed while the camera was starting
  } catch (exc) {
    if (scanner === mine) closeScanner();
    state.scanError = t(exc instanceof CameraProblem && exc.reason === "denied" ? "scan.denied" : "scan.noCamera");
    renderPay();
    announce(state.scanError);
  }
}

/** Stops the camera, if it is open (main.js calls it whenever a view other than pay is drawn). */
export function closeScanner() {
  if (scanner && scanner.stop) scanner.stop();
  scanner = null;
}

function payBody() {
  const out = [];
  if (state.payResult) out.push(h("div", { class: "card success", role: "status", "data-testid": "pay-result" },
    state.payResult));
  if (state.request && !state.requestError) out.push(requestCard(state.request));
  if (state.requestError) out.push(h("div", { class: "alert", role: "alert", "data-testid": "request-error" },
    h("p", null, state.requestError),
    state.request ? h("p", { class: "small refused" }, [t("points.credits", { n: fmt.credits(state.request.credits) }),
      merchantLabel(state.request), orderText(state.request)].join(" · ")) : null));
  if (scanner) out.push(scannerCard());
  if (state.scanError) out.push(h("p", { class: "alert", role: "alert", "data-testid": "scan-error" }, state.scanError));
  const input = h("input", { type: "text", value: state.codeInput, autocomplete: "off", spellcheck: "false",
    autocapitalize: "off", enterkeyhint: "go", class: "mono", oninput: (e) => { state.codeInput = e.target.value; } });
  out.push(h("form", { class: "card code-form", novalidate: true, onsubmit: (e) => { e.preventDefault(); openRequest(input.value); } },
    field("request-code", t("pay.codeLabel"), input, t("pay.codeHint")),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "secondary" }, t("pay.open")),
      h("button", { type: "button", class: "secondary", "data-testid": "scan", disabled: Boolean(scanner),
        onclick: () => openScanner() }, t("scan.button")))));
  out.push(h("h2", null, t("pay.waiting")), h("div", { id: "waiting" }, waitingList()));
  return out;
}

function waitingList() {
  if (!session.token(state.record.address)) return loginForm();
  const open = state.request && !state.requestError ? state.request.id : null;
  const waiting = state.waiting.filter((r) => r.id !== open);
  if (!waiting.length) return h("p", { class: "muted" }, t(open ? "pay.noOtherWaiting" : "pay.noWaiting"));
  return h("ul", { class: "waiting" }, waiting.map((r) => h("li", null,
    h("button", { type: "button", class: "card request-row", onclick: () => { state.codeInput = r.id; openRequest(r.id); } },
      h("strong", null, t("points.credits", { n: fmt.credits(r.credits) })),
      h("span", null, merchantLabel(r)),
      h("span", { class: "muted small" }, orderText(r)),
      h("span", { class: "muted small" }, `${t("pay.expires")} ${fmt.time(r.deadline)}`)))));
}

/** The merchant as residents know it: its name in this language (its catalogue profile's, else its registered
 * name); its ledger address only under "Technical details" (what is signed is checked by consentMatches). */
function merchantLabel(req) {
  const names = req.merchantNames;
  return (names && (names[lang()] || names.en)) || req.merchantName || fmt.short(req.merchant);
}

/** What the order is, as the cashier typed it; never the 64 hexadecimal characters of its orderRef. */
function orderText(req) {
  return req.orderLabel || t("pay.noOrderLabel");
}

export function leftText(seconds) {
  if (seconds <= 0) return t("pay.expired");
  if (seconds < 60) return t("time.sec", { s: seconds });
  if (seconds < 3600) return t("time.minSec", { m: Math.floor(seconds / 60), s: seconds % 60 });
  return t("time.hours", { h: Math.floor(seconds / 3600), m: Math.floor((seconds % 3600) / 60) });
}

/** The points a plan takes, each part "2 Volunteer service points = 0.20", then what the total is against the price:
 * exact, change kept, or change used. `parts` carry `value` (value units) where the API reported it. */
function planLines(parts, credits, testid) {
  const price = fmt.big(credits) * 1000000n;
  const value = parts.reduce((sum, p) => sum + fmt.big(p.value), 0n);
  const change = value - price;
  const total = change > 0n ? t("pay.planChange", { value: fmt.value(value), change: fmt.value(change) })
    : change < 0n ? t("pay.planChangeUsed", { value: fmt.value(value), change: fmt.value(-change) })
      : t("pay.planExact", { value: fmt.value(value) });
  return h("div", { class: "plan", "data-testid": testid },
    h("ul", { class: "plan-parts" }, parts.map((p) => h("li", null,
      t(fmt.big(p.points) === 1n ? "pay.planPartOne" : "pay.planPart",
        { points: fmt.points(p.points), scheme: schemeName(Number(p.scheme)), value: fmt.value(p.value) })))),
    h("p", { class: "plan-total", "data-testid": `${testid}-total` }, total));
}

/** The signed parts with their worth: the page's own rates (its balances) where it has them, else the API's. */
function signedParts(req) {
  const rates = new Map((state.balances?.balances || []).map((b) => [String(b.scheme), fmt.big(b.rate)]));
  const told = new Map((req.plan?.parts || []).map((p) => [String(p.scheme), fmt.big(p.value)]));
  return req.typedData.message.parts.map((p) => ({ ...p, value: rates.has(String(p.scheme))
    ? fmt.big(p.points) * rates.get(String(p.scheme)) : (told.get(String(p.scheme)) ?? 0n) }));
}

function requestCard(req) {
  const m = req.typedData.message;
  const d = req.typedData.domain;
  const total = state.balances ? fmt.big(state.balances.totalCredits) : null;
  const need = fmt.big(m.credits);
  const enough = total == null || total >= need;
  const pw = passwordInput();
  const error = h("div", { class: "form-error" });
  const approve = h("button", { type: "submit", class: "primary", disabled: !enough, "data-testid": "approve" },
    t("pay.approve", { n: fmt.credits(need) }));
  const seconds = Number(fmt.big(m.deadline)) - Math.floor(Date.now() / 1000);
  const form = h("form", { class: "approve-form", novalidate: true, onsubmit: (e) => { e.preventDefault(); approveRequest(req, pw, approve, error); } },
    field("sign-password", t("pay.password"), pw),
    error,
    h("div", { class: "actions" }, approve,
      h("button", { type: "button", class: "ghost", onclick: () => { state.request = null; state.codeInput = ""; renderPay(); } },
        t("pay.dismiss"))));
  return h("article", { class: "card request-card", "aria-labelledby": "request-title", "data-testid": "request-card" },
    h("h2", { id: "request-title" }, t("pay.summaryTitle")),
    state.fromLink ? h("p", { class: "muted small" }, t("pay.openedFromLink")) : null,
    h("p", { class: "big", "data-testid": "request-amount" }, t("points.credits", { n: fmt.credits(need) })),
    h("dl", { class: "facts" },
      h("dt", null, t("pay.merchant")),
      h("dd", { "data-testid": "request-merchant" }, merchantLabel(req)),
      h("dt", null, t("pay.order")),
      h("dd", { "data-testid": "request-order" }, orderText(req)),
      h("dt", null, t("pay.expires")),
      h("dd", { "data-testid": "request-expiry" }, h("span", { "data-deadline": String(m.deadline) },
        t("pay.expiresIn", { time: fmt.dateTime(m.deadline), left: leftText(seconds) })))),
    total != null ? h("p", { class: enough ? "muted" : "warn" }, enough
      ? t("pay.youHave", { n: fmt.credits(total), after: fmt.credits(total - need) })
      : t("pay.notEnough", { n: fmt.credits(total) })) : null,
    h("h3", null, t("pay.plan")),
    planLines(signedParts(req), m.credits, "request-plan"),
    chosen() ? h("p", { class: "muted small", "data-testid": "request-order-note" },
      t("pay.inOrder", { list: heldInOrder().map(schemeName).join(" › ") })) : null,
    h("p", { class: "consent" }, t("pay.consent")),
    h("details", { class: "technical" },
      h("summary", null, t("pay.technical")),
      h("dl", { class: "facts mono small" },
        ...[["primaryType", req.typedData.primaryType], ["domain", `${d.name} v${d.version}`], ["chainId", d.chainId],
          ["verifyingContract", d.verifyingContract], ...Object.entries(m)]
          .flatMap(([k, v]) => [h("dt", null, k), h("dd", { class: "break" }, String(v))]))),
    form);
}

/** The spending order of the programmes the resident holds points of (the others cannot be taken anyway). */
function heldInOrder() {
  const held = new Set((state.balances?.balances || []).filter((b) => fmt.big(b.points) > 0n).map((b) => String(b.scheme)));
  return spendingOrder().filter((id) => held.has(id));
}

async function approveRequest(req, pw, button, error) {
  error.replaceChildren();
  if (fmt.big(req.deadline) * 1000n <= BigInt(Date.now())) {
    state.requestError = t("err.expired");
    renderPay();
    return;
  }
  const done = busy(button, t("pay.signing"));
  let wallet = await unlockOrExplain(pw, error, done);
  if (!wallet) return;
  try {
    const { EIP712Domain, ...types } = req.typedData.types;
    const signature = await wallet.signTypedData(req.typedData.domain, types, req.typedData.message);
    wallet = null;
    const res = await api.approve(req.id, signature, req.typedData.message.parts);
    state.request = null;
    state.codeInput = "";
    state.fromLink = false;
    state.waiting = state.waiting.filter((r) => r.id !== req.id);  // paid: no longer waiting, at once
    state.payResult = res.status === "confirmed"
      ? [h("p", null, t("pay.done", { n: fmt.credits(res.credits), merchant: merchantLabel(req) })),
        res.parts ? planLines(res.parts, res.credits, "receipt-plan") : null,
        h("details", { class: "technical", "data-testid": "receipt-details" }, h("summary", null, t("pay.details")),
          h("dl", { class: "facts mono small" }, h("dt", null, t("pay.block")), h("dd", null, fmt.points(res.blockNumber)),
            h("dt", null, t("pay.tx")), h("dd", { class: "break" }, res.txHash || "")))]
      : t("pay.donePending");
    renderPay();
    announce(document.querySelector("[data-testid=pay-result]")?.textContent || "");
    document.querySelector("[data-testid=pay-result]")?.setAttribute("tabindex", "-1");
    document.querySelector("[data-testid=pay-result]")?.focus();
    await page.refreshUntil(res.blockNumber);
  } catch (exc) {
    done();
    const text = errorText(exc);
    if (exc instanceof ApiError && ["consent_expired", "consent_already_used", "request_not_open",
      "request_not_found"].includes(exc.code)) {
      state.requestError = text;
      renderPay();
      document.querySelector(".pay .alert")?.focus();
    } else {
      error.append(alertBox(text));
    }
  }
}
