// Seconds as people say them, as `citypoints gov` does (ledger_node/governance/formats.py duration): whole days,
// else whole hours, else whole minutes, else seconds; 0 is "none".
import { t } from "../../wallet/src/i18n.js";

export function duration(seconds) {
  const s = Number(seconds);
  if (s === 0) return t("dur.none");
  for (const [unit, size] of [["day", 86400], ["hour", 3600], ["minute", 60]]) {
    if (s % size === 0) return t(s / size === 1 ? `dur.${unit}1` : `dur.${unit}`, { n: String(s / size) });
  }
  return t("dur.second", { n: String(s) });
}
