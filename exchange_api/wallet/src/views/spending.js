// The spending order card (under "Key"): the resident puts the programmes in the order a payment should take their
// points; kept on this device (order.js) and sent with every payment request the wallet opens.
import { t, schemeName, schemeStyle } from "../i18n.js";
import { spendingOrder, move } from "../order.js";
import { h, announce } from "../ui.js";

export function spendingCard() {
  const order = spendingOrder();
  return h("section", { class: "card spending", "aria-labelledby": "order-title", "data-testid": "spending-order" },
    h("h2", { id: "order-title" }, t("order.title")),
    h("p", { class: "muted small" }, t("order.lead")),
    order.length ? h("ol", { class: "order-list", id: "order-list" }, order.map((id, i) => orderRow(id, i, order.length)))
      : h("p", { class: "muted" }, t("order.none")));
}

function orderRow(id, i, n) {
  const name = schemeName(id);
  const step = (delta) => () => {
    const order = move(id, delta);
    document.querySelector("[data-testid=spending-order]")?.replaceWith(spendingCard());
    document.querySelector(`[data-testid=order-${delta < 0 ? "up" : "down"}-${id}]:not([disabled])`)?.focus();
    announce(t("order.saved", { list: order.map(schemeName).join(" › ") }));
  };
  return h("li", { "data-scheme": id, style: schemeStyle(id) },
    h("span", { class: "dot", "aria-hidden": "true" }),
    h("span", { class: "order-name" }, name),
    h("span", { class: "order-moves" },
      h("button", { type: "button", class: "ghost small", disabled: i === 0, "data-testid": `order-up-${id}`,
        "aria-label": t("order.up", { programme: name }), onclick: step(-1) }, "↑"),
      h("button", { type: "button", class: "ghost small", disabled: i === n - 1, "data-testid": `order-down-${id}`,
        "aria-label": t("order.down", { programme: name }), onclick: step(1) }, "↓")));
}
