// The shop's webhook endpoints with their delivery log (the API's GET .../deliveries) and a retry button per
// delivery (POST .../redeliver: one more attempt now, same event id).
import { t } from "../../../wallet/src/i18n.js";
import { h } from "../../../wallet/src/dom.js";
import * as fmt from "../../../wallet/src/format.js";
import { state } from "../state.js";
import { alertBox } from "./common.js";

const unix = (iso) => Math.floor(Date.parse(iso) / 1000);

export function webhooksView(actions) {
  const hooks = state.webhooks;
  return h("section", { class: "card", "aria-labelledby": "hooks-title" },
    h("div", { class: "row" }, h("h1", { id: "hooks-title", tabindex: "-1" }, t("pos.hooksTitle")),
      h("button", { type: "button", class: "ghost small", onclick: actions.loadWebhooks }, t("pos.reload"))),
    alertBox(state.error, "hooks-error"),
    hooks && !hooks.length ? h("p", { class: "muted" }, t("pos.hooksNone")) : null,
    (hooks || []).map((e) => h("div", { class: "hook", "data-id": e.id },
      h("h2", { class: "mono break" }, e.url),
      e.deliveries.length ? h("ul", { class: "till-list", "data-testid": "deliveries" }, e.deliveries.map((d) =>
        h("li", { "data-id": d.id },
          h("div", { class: "what" },
            h("strong", null, d.eventType),
            h("span", { class: `small status-${d.status}` }, t(`pos.hook.${d.status}`), " · ",
              t("pos.hook.attempts", { n: d.attempts }),
              d.lastStatusCode ? [" · HTTP ", String(d.lastStatusCode)] : null,
              d.lastError ? [" · ", d.lastError] : null),
            h("span", { class: "muted small" }, fmt.dateTime(unix(d.lastAttemptAt || d.createdAt)))),
          state.redelivered[d.id] ? h("span", { class: "ok-line small", role: "status" }, t("pos.hook.queued"))
            : h("div", { class: "acts" }, h("button", { type: "button", class: "ghost", "data-testid": "redeliver",
              disabled: state.busy === `redeliver:${d.id}`, onclick: () => actions.redeliver(e.id, d.id) },
            t("pos.hook.retry"))))))
        : h("p", { class: "muted small" }, t("pos.hooksNoDeliveries")))));
}
