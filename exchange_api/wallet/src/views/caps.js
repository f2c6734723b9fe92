// Today's caps: per programme, the points received today against the resident daily cap the consortium set, and
// what is left ("today 120 of 500 · 380 left"); a programme without a cap says so. Read from the chain by the API
// (PointsLedger.receivedToday) at one block; the day is the ledger's (the city's time zone).
import { t, schemeName, schemeStyle } from "../i18n.js";
import * as fmt from "../format.js";
import { state } from "../state.js";
import { h } from "../ui.js";

export function capsCard() {
  const c = state.caps;
  if (!c) return null;
  const rows = c.caps.filter((x) => x.status === "active" || fmt.big(x.receivedToday) > 0n);
  if (!rows.length) return null;
  return h("section", { class: "card caps", "aria-labelledby": "caps-title", "data-testid": "caps" },
    h("h2", { id: "caps-title" }, t("caps.title")),
    h("p", { class: "muted small" }, t("caps.lead", { time: fmt.dateTime(c.resetsAt) })),
    h("ul", { class: "caps-list" }, rows.map((x) => h("li", { "data-testid": `cap-${x.scheme}`, style: schemeStyle(x.scheme) },
      h("span", { class: "dot", "aria-hidden": "true" }),
      h("span", { class: "caps-name" }, schemeName(x.scheme)),
      h("span", { class: "caps-figures" }, x.cap == null
        ? t("caps.none", { received: fmt.points(x.receivedToday) })
        : t("caps.line", { received: fmt.points(x.receivedToday), cap: fmt.points(x.cap), left: fmt.points(x.left) })),
      x.cap != null ? h("span", { class: "caps-bar", "aria-hidden": "true", style: { "--used": usedShare(x) } }) : null))));
}

/** The share of the cap used, as a CSS percentage (integers only). */
function usedShare(x) {
  const cap = fmt.big(x.cap);
  if (cap === 0n) return "100%";
  const used = fmt.big(x.receivedToday) * 100n / cap;
  return `${used > 100n ? 100n : used}%`;
}
