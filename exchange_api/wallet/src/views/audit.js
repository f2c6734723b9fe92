// "Check my balance against the auditor's last attested report": the API serves this account's balance lines from
// the report the auditor published, each with its Merkle proof; the page recomputes each leaf and the root itself
// (merkle.js, the hashing of ledger_node/merkle.py) and compares the root with the one the auditor attested on the
// ledger (GET /v1/attestations). A balance that changed since the report's block is normal: both are shown.
import { t, schemeName } from "../i18n.js";
import * as fmt from "../format.js";
import { api } from "../api.js";
import { rootOf } from "../merkle.js";
import { state } from "../state.js";
import { h, announce, errorText, busy } from "../ui.js";

export function auditCard() {
  const button = h("button", { type: "button", class: "secondary", "data-testid": "audit-check",
    onclick: (e) => checkBalance(e.currentTarget) }, t("audit.check"));
  return h("section", { class: "card audit", "aria-labelledby": "audit-title" },
    h("h2", { id: "audit-title" }, t("audit.title")),
    h("p", { class: "muted small" }, t("audit.lead")),
    h("div", { class: "actions" }, button),
    h("div", { id: "audit-result", "aria-live": "polite" }, auditResult()));
}

async function checkBalance(button) {
  const done = busy(button, t("audit.checking"));
  const address = state.record.address;
  try {
    const [proof, attested] = await Promise.all([api.balanceProof(address), api.attestations(5)]);
    state.audit = judge(address, proof, attested);
  } catch (exc) {
    state.audit = { error: errorText(exc) };
  }
  done();
  document.getElementById("audit-result")?.replaceChildren(...[auditResult()].filter(Boolean));
  announce(document.querySelector("[data-testid=audit-status]")?.textContent || "");
}

/** Every line's root against the root attested on chain for the report's attestation. */
export function judge(address, proof, attested) {
  const onChain = attested.find((a) => Number(a.id) === Number(proof.attestation.id));
  const block = proof.attestation.toBlock;
  if (!onChain) return { block, notAttested: true, lines: [] };
  const root = String(onChain.merkleRoot).toLowerCase();
  const lines = proof.lines.map((l) => {
    let ok = false;
    try {
      ok = rootOf(address, l.scheme, l.balance, l.proof) === root;
    } catch {
      ok = false;
    }
    return { scheme: l.scheme, balance: l.balance, ok };
  });
  return { block: onChain.toBlock, root, lines, ok: lines.every((l) => l.ok) };
}

function auditResult() {
  const a = state.audit;
  if (!a) return null;
  if (a.error) return h("p", { class: "alert", role: "alert", "data-testid": "audit-status" }, a.error);
  const n = fmt.points(a.block);
  if (a.notAttested) return h("p", { class: "alert", role: "alert", "data-testid": "audit-status" }, t("audit.notAttested"));
  if (!a.lines.length) return h("p", { class: "muted", "data-testid": "audit-status" }, t("audit.noLines", { n }));
  const now = new Map(((state.balances && state.balances.balances) || []).map((b) => [String(b.scheme), fmt.big(b.points)]));
  return h("div", { class: a.ok ? "audit-ok" : "audit-bad", "data-result": a.ok ? "match" : "mismatch" },
    h("p", { class: a.ok ? "success-text" : "alert", role: a.ok ? "status" : "alert", "data-testid": "audit-status" },
      a.ok ? t("audit.matches", { n }) : t("audit.mismatch", { n })),
    h("ul", { class: "audit-lines" }, a.lines.map((l) => {
      const held = now.get(String(l.scheme)) ?? 0n;
      const changed = held !== fmt.big(l.balance);
      return h("li", { "data-testid": `audit-line-${l.scheme}`, "data-ok": l.ok ? "true" : "false" },
        h("span", { "aria-hidden": "true" }, l.ok ? "✓ " : "✗ "),
        t("audit.line", { programme: schemeName(l.scheme), points: fmt.points(l.balance), n }),
        !l.ok ? h("span", { class: "warn" }, " ", t("audit.lineBad")) : null,
        l.ok && changed ? h("span", { class: "muted small", "data-testid": `audit-changed-${l.scheme}` }, " ",
          t("audit.changed", { now: fmt.points(held), n })) : null);
    })),
    h("p", { class: "muted small mono break" }, `${t("audit.root")}: ${a.root}`));
}
