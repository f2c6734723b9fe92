// Building DOM nodes, shared by the wallet and the console (which must not pull in the wallet's key store): text
// always as text nodes, so nothing the API sends is ever parsed as HTML.

/** h("p", {class: "x", onclick: fn}, "text", child, [more]) -> <p class="x">…</p> */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v == null) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    // custom properties and styles through the CSSOM (the pages' CSP refuses style attributes)
    else if (k === "style" && typeof v === "object") for (const [p, x] of Object.entries(v)) el.style.setProperty(p, x);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Say `text` to screen readers through the page's live region (#live), once, even when it repeats. */
export function announce(text) {
  const live = document.getElementById("live");
  live.textContent = "";
  setTimeout(() => { live.textContent = text; }, 50);
}

/** Replace `container`'s children with `children`, as a page redraws on every change: what is being typed (inputs
 * by id, the API key's password field too) and the focus survive, so a redraw a late answer brings (the programme
 * names, a 15-second refresh) never takes away what the person has typed and not yet sent. */
export function redraw(container, ...children) {
  const typed = [...container.querySelectorAll("input[id]")].map((i) => [i.id, i.value]);
  const focused = document.activeElement && document.activeElement.id;
  container.replaceChildren(...children);
  for (const [id, value] of typed) {
    const input = document.getElementById(id);
    if (input && !input.value) input.value = value;
  }
  if (focused) document.getElementById(focused)?.focus();
}
