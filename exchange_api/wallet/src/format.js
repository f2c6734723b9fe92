// Amounts are integers end to end: points, and credits in credit cents. Arithmetic is BigInt only; numbers
// are turned into text here and nowhere else.
import { locale } from "./i18n.js";

const RATE_SCALE_DIGITS = 8n; // a rate is credit cents per point x 1e6, so credits per point x 1e8

export function big(x) {
  if (typeof x === "bigint") return x;
  if (typeof x === "number") {
    if (!Number.isSafeInteger(x)) throw new RangeError(`not a safe integer: ${x}`);
    return BigInt(x);
  }
  if (typeof x === "string" && /^-?\d+$/.test(x)) return BigInt(x);
  throw new TypeError(`not an integer: ${x}`);
}

function group(whole) {
  return whole.toLocaleString(locale());
}

/** 1234n -> "12.34" (credit cents as credits, grouped for the language). */
export function credits(cents) {
  const v = big(cents);
  const sign = v < 0n ? "-" : "";
  const a = v < 0n ? -v : v;
  return `${sign}${group(a / 100n)}.${(a % 100n).toString().padStart(2, "0")}`;
}

/** 12345n -> "12,345" */
export function points(n) {
  return group(big(n));
}

/** Value units (credit cents x 1e6: a rate, points' worth, change) as credits: 5000000 -> "0.05",
 * 333333 -> "0.00333333"; exact, trailing zeros dropped beyond 2 (ledger_node/domain.value_decimal). */
export function value(units) {
  const v = big(units);
  const a = v < 0n ? -v : v;
  const scale = 10n ** RATE_SCALE_DIGITS;
  let frac = (a % scale).toString().padStart(Number(RATE_SCALE_DIGITS), "0").replace(/0+$/, "");
  if (frac.length < 2) frac = frac.padEnd(2, "0");
  return `${v < 0n ? "-" : ""}${group(a / scale)}.${frac}`;
}

/** 10000000 (credit cents per point x 1e6) -> "0.10" credits a point. */
export function rate(r) {
  return value(r);
}

/** "0x1234…abcd" */
export function short(hex, head = 6, tail = 4) {
  if (!hex || hex.length <= head + tail + 1) return hex || "";
  return `${hex.slice(0, head)}…${hex.slice(-tail)}`;
}

export function dateTime(unixSeconds) {
  const d = new Date(Number(big(unixSeconds)) * 1000);
  return d.toLocaleString(locale(), { dateStyle: "medium", timeStyle: "short" });
}

/** A calendar date "2027-01-31" (the city's) -> "31 Jan" / "1月31日", with the year when it is not this one's. */
export function day(isoDate) {
  const [y, m, d] = String(isoDate).split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  const year = y !== new Date().getUTCFullYear() ? { year: "numeric" } : {};
  return date.toLocaleDateString(locale(), { day: "numeric", month: "short", timeZone: "UTC", ...year });
}

export function time(unixSeconds) {
  const d = new Date(Number(big(unixSeconds)) * 1000);
  return d.toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" });
}

/** Parse user input "120" -> 120n; anything else -> null. */
export function parseWhole(text) {
  const s = String(text).trim();
  return /^\d{1,30}$/.test(s) ? BigInt(s) : null;
}

/** Parse an amount of credits a person types, "12.34" or "12" -> 1234n credit cents (at most 2 decimals, "," or
 * "." as the decimal mark); anything else -> null. No floats: the digits are read as integers. */
export function parseCredits(text) {
  const m = /^(\d{1,27})(?:[.,](\d{1,2}))?$/.exec(String(text).trim());
  if (!m) return null;
  return BigInt(m[1]) * 100n + BigInt((m[2] || "0").padEnd(2, "0"));
}
