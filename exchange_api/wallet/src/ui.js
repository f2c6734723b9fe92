// The few DOM helpers every view builds with. Pages are made of DOM nodes, text always as text nodes: nothing the
// API sends is ever parsed as HTML.
import { t, errorWords } from "./i18n.js";
import { ApiError } from "./api.js";
import * as keystore from "./keystore.js";
import { state } from "./state.js";
import { h } from "./dom.js";
import * as session from "./session.js";

export { h };

/** Said by screen readers (the page's one polite live region), for what happens away from the focus. */
export { announce } from "./dom.js";

/** A failure as a sentence: known API codes and key errors have their own, anything else names its code. */
export function errorText(exc) {
  if (exc instanceof keystore.WrongPassword) return t("err.wrongPassword");
  if (exc instanceof keystore.NoCrypto) return t("err.noCrypto");
  return errorWords(exc instanceof ApiError ? exc : { name: exc && exc.name });
}

export function alertBox(text) {
  return text ? h("p", { class: "alert", role: "alert" }, text) : null;
}

export function field(id, label, input, hint) {
  input.id = id;
  if (hint) input.setAttribute("aria-describedby", `${id}-hint`);
  return h("div", { class: "field" }, h("label", { for: id }, label), input,
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null);
}

export function passwordInput(autocomplete = "current-password") {
  return h("input", { type: "password", autocomplete, required: true, minlength: String(keystore.MIN_PASSWORD) });
}

/** Disables the button and shows `text` on it while work runs; the returned function restores it. */
export function busy(button, text) {
  const old = button.textContent;
  button.disabled = true;
  button.textContent = text;
  button.setAttribute("aria-busy", "true");
  return () => {
    button.disabled = false;
    button.textContent = old;
    button.removeAttribute("aria-busy");
  };
}

// Decrypt the key with the typed password; on failure explain why, end the busy state and return null.
export async function unlockOrExplain(pw, error, done) {
  try {
    return await keystore.unlock(state.record, pw.value);
  } catch (exc) {
    done();
    error.append(alertBox(errorText(exc)));
    pw.select();
    pw.focus();
    return null;
  }
}

/** A password form's resident sign-in (a signed login the API answers with a short-lived token): unlock the key,
 * sign in, forget the key and the password, then `after(done)`; a failure is said in `error`. */
export async function signInResident(pw, error, button, after) {
  error.replaceChildren();
  const done = busy(button, t("pay.loggingIn"));
  let wallet = await unlockOrExplain(pw, error, done);
  if (!wallet) return;
  try {
    await session.signIn(wallet);
    wallet = null;
    pw.value = "";
    await after(done);
  } catch (exc) {
    wallet = null;
    done();
    error.append(alertBox(errorText(exc)));
  }
}
