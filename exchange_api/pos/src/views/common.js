// Helpers the till's views share: a failure as a sentence (the wallet's error words, the till's own added), the
// merchant's name in the page's language.
import { t, lang, errorWords } from "../../../wallet/src/i18n.js";
import { h } from "../../../wallet/src/dom.js";

/** A failure as a sentence: the till's own check ({key, vars}: words of this language), or an API failure
 * (i18n.errorWords). */
export function errorText(exc) {
  return exc && exc.key ? t(exc.key, exc.vars || {}) : errorWords(exc);
}

export function alertBox(exc, testid) {
  return exc ? h("p", { class: "alert", role: "alert", "data-testid": testid || "error" }, errorText(exc)) : null;
}

/** The merchant's registered name (its catalogue profile) in the page's language. */
export function merchantName(merchant) {
  return (merchant && merchant.name && (merchant.name[lang()] || merchant.name.en)) || "";
}

export function field(id, label, input, hint) {
  input.id = id;
  if (hint) input.setAttribute("aria-describedby", `${id}-hint`);
  return h("div", { class: "field" }, h("label", { for: id }, label), input,
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null);
}
