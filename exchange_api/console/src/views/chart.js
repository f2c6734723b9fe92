// The console's one plot: horizontal bars drawn as inline SVG by this small function (no charting library).
// Values are BigInt; only the bar lengths become numbers, as fractions of the largest value.
const NS = "http://www.w3.org/2000/svg";

function el(tag, attrs, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text != null) node.textContent = text;
  return node;
}

/** bars([{label, value: BigInt, text, colour}], title) -> <svg role="img"> with one labelled bar a row. */
export function bars(rows, title) {
  const rowH = 28;
  const labelW = 130;
  const width = 360;
  const svg = el("svg", { viewBox: `0 0 ${width} ${rows.length * rowH + 4}`, role: "img", "aria-label": title,
    class: "chart" });
  svg.append(el("title", {}, title));
  const max = rows.reduce((m, r) => (r.value > m ? r.value : m), 0n);
  const room = width - labelW - 90;
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    const len = max > 0n ? Math.max(1, Number((r.value * 1000n) / max) / 1000 * room) : 1;
    svg.append(
      el("text", { x: 0, y: y + 16, class: "chart-label" }, r.label),
      el("rect", { x: labelW, y: y + 4, width: len.toFixed(1), height: rowH - 10, rx: 3, class: `bar ${r.colour}` }),
      el("text", { x: labelW + len + 6, y: y + 16, class: "chart-value" }, r.text));
  });
  return svg;
}
