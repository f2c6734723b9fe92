// Exchanging points between programs: a live quote as the resident types (with the slippage bound they choose),
// and the quote's ExchangeIntent signed with its minReceived. A quote older than a minute is refreshed first.
import { t, lang, schemeName } from "../i18n.js";
import * as fmt from "../format.js";
import { api, ApiError } from "../api.js";
import { state, page } from "../state.js";
import { intentMatches } from "../typed_data.js";
import { h, announce, errorText, alertBox, field, passwordInput, busy, unlockOrExplain } from "../ui.js";

const SLIPPAGES = [50, 100, 200, 500]; // basis points
const QUOTE_MAX_AGE_MS = 60_000;

export function exchangeView() {
  const held = heldSchemes();
  const ex = state.ex;
  if (!held.some((s) => String(s.scheme) === ex.from)) ex.from = held.length ? String(held[0].scheme) : "";
  const targets = targetSchemes(ex.from);
  if (!targets.some((s) => String(s.scheme) === ex.to)) ex.to = targets.length ? String(targets[0].scheme) : "";
  const result = state.exResult;
  state.exResult = null;
  if (!held.length) {
    return h("section", { class: "exchange", "aria-labelledby": "ex-title" },
      h("h1", { id: "ex-title", tabindex: "-1" }, t("ex.title")),
      result ? h("div", { class: "card success", role: "status", "data-testid": "exchange-result" }, result) : null,
      h("p", { class: "card muted" }, state.balances ? t("ex.nothing") : "…"));
  }
  const available = fmt.big(held.find((s) => String(s.scheme) === ex.from).points);
  const fromSel = h("select", { onchange: (e) => { ex.from = e.target.value; state.quote = null; page.render(); requestQuote(); } },
    held.map((s) => h("option", { value: String(s.scheme), selected: String(s.scheme) === ex.from },
      `${schemeName(s.scheme)} (${fmt.points(s.points)})`)));
  const toSel = h("select", { onchange: (e) => { ex.to = e.target.value; state.quote = null; requestQuote(); } },
    targets.map((s) => h("option", { value: String(s.scheme), selected: String(s.scheme) === ex.to }, schemeName(s.scheme))));
  const amount = h("input", { type: "text", inputmode: "numeric", pattern: "[0-9]*", value: ex.points,
    autocomplete: "off", class: "num", oninput: (e) => { ex.points = e.target.value; requestQuote(); } });
  const all = h("button", { type: "button", class: "ghost small", onclick: () => {
    ex.points = available.toString();
    amount.value = ex.points;
    requestQuote();
  } }, t("ex.all"));
  const slip = h("fieldset", { class: "slippage" }, h("legend", null, t("ex.slippage")),
    h("div", { class: "chips" }, SLIPPAGES.map((bps) => h("label", { class: "chip" },
      h("input", { type: "radio", name: "slippage", value: String(bps), checked: ex.slippage === bps,
        onchange: () => { ex.slippage = bps; requestQuote(); } }),
      h("span", null, `${(bps / 100).toLocaleString(lang() === "zh" ? "zh-CN" : "en-GB")}%`)))));
  const pw = passwordInput();
  const error = h("div", { class: "form-error" });
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "exchange-submit" }, t("ex.submit"));
  return h("section", { class: "exchange", "aria-labelledby": "ex-title" },
    h("h1", { id: "ex-title", tabindex: "-1" }, t("ex.title")),
    result ? h("div", { class: "card success", role: "status", "data-testid": "exchange-result" }, result) : null,
    h("p", { class: "muted" }, t("ex.intro")),
    h("form", { class: "card exchange-form", novalidate: true,
      onsubmit: (e) => { e.preventDefault(); submitExchange(pw, submit, error); } },
    h("div", { class: "pair" },
      field("ex-from", t("ex.from"), fromSel),
      h("span", { class: "arrow", "aria-hidden": "true" }, "→"),
      field("ex-to", t("ex.to"), toSel)),
    h("div", { class: "field" },
      h("label", { for: "ex-points" }, t("ex.points")),
      h("div", { class: "inline" }, Object.assign(amount, { id: "ex-points" }), all),
      h("p", { class: "hint", id: "ex-points-hint" }, t("ex.available", { n: fmt.points(available) }))),
    slip,
    h("div", { class: "quote", id: "quote", "aria-live": "polite", "data-testid": "quote" }, quoteBody()),
    field("ex-password", t("ex.password"), pw),
    error,
    submit));
}

function quoteBody() {
  if (state.quoteError) return alertBox(state.quoteError);
  const q = state.quote;
  if (!q) return state.quoteSeq && state.ex.points ? h("p", { class: "muted" }, t("ex.quoting")) : null;
  const program = schemeName(q.toScheme);
  return [
    h("p", { class: "quote-main", "data-testid": "quote-received" },
      t("ex.quote", { n: fmt.points(q.received), program, c: fmt.credits(q.credits) })),
    h("p", { class: "muted small", "data-testid": "quote-min" }, t("ex.min", { n: fmt.points(q.minReceived) })),
  ];
}

function renderQuote() {
  const box = document.getElementById("quote");
  if (box) box.replaceChildren(...[quoteBody()].flat().filter(Boolean));
}

/** Checks the form; returns {fromScheme, toScheme, points} or an error text. */
function exchangeInput() {
  const ex = state.ex;
  const points = fmt.parseWhole(ex.points);
  if (points == null || points === 0n) return { error: ex.points.trim() ? t("ex.wholePoints") : null };
  if (!ex.from || !ex.to || ex.from === ex.to) return { error: t("ex.same") };
  const held = heldSchemes().find((s) => String(s.scheme) === ex.from);
  if (!held || points > fmt.big(held.points)) return { error: t("ex.tooMany", { n: fmt.points(held ? held.points : 0) }) };
  return { fromScheme: fmt.big(ex.from), toScheme: fmt.big(ex.to), points };
}

let quoteTimer = null;

/** Asks for a quote for what the form says (a moment after the last keystroke); shows it, or why not. */
export function requestQuote() {
  clearTimeout(quoteTimer);
  const seq = ++state.quoteSeq;
  state.quote = null;
  state.quoteError = null;
  const input = exchangeInput();
  if (input.error || !input.points) {
    state.quoteError = input.error || null;
    renderQuote();
    return;
  }
  renderQuote();
  quoteTimer = setTimeout(async () => {
    try {
      const q = await api.quote({ resident: state.record.address, fromScheme: input.fromScheme,
        toScheme: input.toScheme, points: input.points, slippage: state.ex.slippage });
      if (seq !== state.quoteSeq) return;
      state.quote = q;
      state.quoteAt = Date.now();
    } catch (exc) {
      if (seq !== state.quoteSeq) return;
      state.quoteError = errorText(exc);
    }
    renderQuote();
  }, 250);
}

async function submitExchange(pw, button, error) {
  error.replaceChildren();
  const input = exchangeInput();
  const q = state.quote;
  if (input.error || !input.points) {
    error.append(alertBox(input.error || t("ex.wholePoints")));
    return;
  }
  if (!q || Date.now() - state.quoteAt > QUOTE_MAX_AGE_MS || !intentMatches(q, input, state.record.address)) {
    requestQuote(); // show a fresh quote; the resident signs what they have seen
    return;
  }
  const done = busy(button, t("ex.signing"));
  let wallet = await unlockOrExplain(pw, error, done);
  if (!wallet) return;
  try {
    const { EIP712Domain, ...types } = q.typedData.types;
    const m = q.typedData.message;
    const signature = await wallet.signTypedData(q.typedData.domain, types, m);
    wallet = null;
    const res = await api.exchange({ resident: m.resident, fromScheme: m.fromScheme, toScheme: m.toScheme,
      points: m.points, minReceived: m.minReceived, nonce: m.nonce, deadline: m.deadline, signature });
    state.exResult = res.status === "confirmed"
      ? t("ex.done", { p: fmt.points(res.points), from: schemeName(res.fromScheme), r: fmt.points(res.received),
        to: schemeName(res.toScheme) })
      : t("ex.donePending");
    announce(state.exResult);
    state.ex.points = "";
    state.quote = null;
    state.quoteSeq = 0;
    await page.refreshUntil(res.blockNumber);
    document.querySelector("[data-testid=exchange-result]")?.setAttribute("tabindex", "-1");
    document.querySelector("[data-testid=exchange-result]")?.focus();
  } catch (exc) {
    done();
    error.append(alertBox(errorText(exc)));
    if (exc instanceof ApiError && exc.code === "below_minimum") requestQuote();
  }
}

function heldSchemes() {
  return (state.balances ? state.balances.balances : []).filter((s) => fmt.big(s.points) > 0n);
}

function targetSchemes(from) {
  return [...state.schemes.values()].filter((s) => s.status === "active" && String(s.scheme) !== String(from));
}
