// "My code": the resident's address as a QR code and as text to copy, for the registration office and issuers.
import { qrElement } from "../qr.js";
import { t } from "../i18n.js";
import { state } from "../state.js";
import { h } from "../ui.js";

export function receiveView() {
  const a = state.record.address;
  const status = h("p", { class: "muted small", role: "status" });
  return h("section", { class: "receive", "aria-labelledby": "recv-title" },
    h("h1", { id: "recv-title", tabindex: "-1" }, t("recv.title")),
    // a key made through "Lost your key?" (views/recovery.js): this code is what the office reads
    state.welcome === "lost" ? h("p", { class: "notice", role: "status", "data-testid": "receive-notice" },
      t("rec.showOffice")) : null,
    h("div", { class: "card qr-card" },
      h("div", { class: "qr", id: "qr", role: "img", "aria-label": t("recv.qrLabel", { a }) }),
      h("p", { class: "label" }, t("recv.address")),
      h("p", { class: "mono address", "data-testid": "address" }, a.slice(0, 2), a.slice(2).match(/.{1,4}/g).map(
        (g) => h("span", null, g))),
      h("button", { type: "button", class: "secondary", onclick: async () => {
        try {
          await navigator.clipboard.writeText(a);
        } catch {
          const range = document.createRange();
          range.selectNodeContents(document.querySelector("[data-testid=address]"));
          getSelection().removeAllRanges();
          getSelection().addRange(range);
          document.execCommand && document.execCommand("copy");
        }
        status.textContent = t("recv.copied");
      } }, t("recv.copy")),
      status),
    h("p", { class: "muted" }, t("recv.body")));
}

/** Draws the QR into the view once it is in the page (the SVG is made here, never from API text). */
export async function drawQr() {
  const box = document.getElementById("qr");
  if (!box) return;
  box.replaceChildren(await qrElement(state.record.address));
}
