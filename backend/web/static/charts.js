// SVG charts drawn with DOM calls (the CSP allows no inline markup or styles). Every chart has a table
// next to it with the same figures, so the SVG itself is hidden from assistive technology.

import { el } from "./lib.js";

const NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

// Horizontal bars with their labels and values.
export function barChart(container, rows, unit = "h", empty = "Nothing tracked.") {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const rowHeight = 28;
  const width = 600;
  const labelWidth = 170;
  const room = width - labelWidth - 70;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${Math.max(1, rows.length) * rowHeight + 8}`, class: "bars", "aria-hidden": "true" });
  rows.forEach((row, i) => {
    const y = i * rowHeight + 4;
    const label = svg("text", { x: 0, y: y + 17 });
    label.textContent = row.label.length > 24 ? `${row.label.slice(0, 23)}…` : row.label;
    const bar = svg("rect", { x: labelWidth, y: y + 4, height: 18, width: Math.max(1, (room * row.value) / max), rx: 3 });
    const value = svg("text", { x: labelWidth + (room * row.value) / max + 6, y: y + 17 });
    value.textContent = `${row.value.toFixed(1)} ${unit}`;
    chart.append(label, bar, value);
  });
  container.replaceChildren(rows.length ? chart : el("p", { class: "muted", text: empty }));
}
