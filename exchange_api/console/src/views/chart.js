// The console's one plot: horizontal bars drawn as inline SVG by this small function (no charting library).
// Values are BigInt; only the bar lengths become numbers, as fractions of the largest value.
const NS = "http://www.w3.org/2000/svg";

function el(tag, attrs, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null) continue;
    if (k === "style") for (const [p, x] of Object.entries(v)) node.style.setProperty(p, x);  // CSSOM: CSP allows it
    else node.setAttribute(k, String(v));
  }
  if (text != null) node.textContent = text;
  return node;
}

/** bars([{label, value: BigInt, text, style}], title) -> <svg role="img"> with one labelled bar a row; `style` sets
 * the bar's --scheme colour. */
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
      el("rect", { x: labelW, y: y + 4, width: len.toFixed(1), height: rowH - 10, rx: 3, class: "bar", style: r.style }),
      el("text", { x: labelW + len + 6, y: y + 16, class: "chart-value" }, r.text));
  });
  return svg;
}

/** columns(days, series, title): one group of vertical bars a day, one bar a series ({key, label, colour}), each
 * day's values BigInt under the series' key; the day labels under every few groups. A <title> in each bar says its
 * day and value (hover, screen readers). Inline SVG, as bars() above. */
export function columns(days, series, title, label = (d) => d.day.slice(5)) {
  const width = 360;
  const height = 150;
  const base = height - 22;
  const top = 14;
  const groupW = width / Math.max(days.length, 1);
  const barW = Math.max(2, (groupW - 4) / series.length);
  const max = days.reduce((m, d) => series.reduce((mm, s) => (d[s.key] > mm ? d[s.key] : mm), m), 0n);
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, class: "chart daily" });
  svg.append(el("title", {}, title));
  svg.append(el("line", { x1: 0, y1: base + 0.5, x2: width, y2: base + 0.5, class: "axis" }));
  days.forEach((d, i) => {
    const x0 = i * groupW + 2;
    series.forEach((s, k) => {
      const v = d[s.key];
      const len = max > 0n && v > 0n ? Math.max(1, (Number((v * 1000n) / max) / 1000) * (base - top)) : 0;
      const rect = el("rect", { x: (x0 + k * barW).toFixed(1), y: (base - len).toFixed(1), width: (barW - 1).toFixed(1),
        height: len.toFixed(1), class: `bar ${s.colour}`, "data-day": d.day, "data-series": s.key });
      rect.append(el("title", {}, `${d.day} · ${s.label}: ${s.text(v)}`));
      svg.append(rect);
    });
    if ((days.length - 1 - i) % Math.ceil(days.length / 6) === 0) { // the last day labelled, then every few back
      const last = i === days.length - 1;
      const first = i === 0;
      const x = last ? x0 + groupW - 4 : first ? x0 : x0 + (groupW - 4) / 2;
      svg.append(el("text", { x: x.toFixed(1), y: height - 6, class: "chart-label",
        "text-anchor": last ? "end" : first ? "start" : "middle" }, label(d)));
    }
  });
  svg.append(el("text", { x: width, y: 10, class: "chart-value", "text-anchor": "end" }, series[0].text(max)));
  return svg;
}
