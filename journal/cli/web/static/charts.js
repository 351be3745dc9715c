/* Small SVG charts, no library: stacked columns (by day) and horizontal bars (by model). */
"use strict";
const Charts = (() => {
  const {el, svg} = J;
  /* Columns of stacked series: labels[i] on the x axis, series[k].values[i] stacked. */
  function columns({labels, series, format, title}) {
    const width = 760, height = 220, left = 70, bottom = 38, top = 10;
    const totals = labels.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
    const max = Math.max(...totals, 0) || 1;
    const plotW = width - left - 10, plotH = height - top - bottom;
    const step = plotW / Math.max(labels.length, 1);
    const barW = Math.max(2, Math.min(48, step * 0.7));
    const chart = svg("svg", {viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
                              "aria-label": title});
    for (let t = 0; t <= 4; t++) {
      const y = top + plotH - (plotH * t) / 4;
      chart.append(svg("line", {x1: left, x2: width - 10, y1: y, y2: y, class: "grid"}));
      chart.append(svg("text", {x: left - 6, y: y + 4, class: "tick", "text-anchor": "end",
                                text: format((max * t) / 4)}));
    }
    const every = Math.ceil(labels.length / 12);
    labels.forEach((label, i) => {
      const x = left + step * i + (step - barW) / 2;
      let y = top + plotH;
      series.forEach((s) => {
        const h = ((s.values[i] || 0) / max) * plotH;
        y -= h;
        const rect = svg("rect", {x, y, width: barW, height: Math.max(h, 0), class: s.cls});
        rect.append(svg("title", {text: `${label} · ${s.name}: ${format(s.values[i] || 0)}`}));
        chart.append(rect);
      });
      if (i % every === 0) {
        chart.append(svg("text", {x: x + barW / 2, y: height - bottom + 16, class: "tick",
                                  "text-anchor": "middle", text: label}));
      }
    });
    const legend = el("div", {class: "legend"},
      series.map((s) => el("span", {}, el("i", {class: `swatch ${s.cls}`}), s.name)));
    return el("figure", {class: "figure"}, el("figcaption", {text: title}), chart,
              series.length > 1 ? legend : null);
  }
  /* One horizontal bar per item: [{label, value, text, cls}]. */
  function bars({items, title}) {
    const max = Math.max(...items.map((item) => item.value || 0), 0) || 1;
    return el("figure", {class: "figure"}, el("figcaption", {text: title}),
      el("div", {class: "hbars"}, items.map((item) =>
        el("div", {class: "hbar"},
          el("span", {class: "hlabel", title: item.label, text: item.label}),
          el("span", {class: "htrack"},
            el("span", {class: `hfill ${item.cls || ""}`,
                        style: `width:${((item.value || 0) / max) * 100}%`})),
          el("span", {class: "hvalue", text: item.text})))));
  }
  return {columns, bars};
})();
