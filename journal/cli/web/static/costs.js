/* The costs page: cost and tokens by day and by model over a chosen range, as
   `journal costs --by day|model --json` answers, with the unpriced tokens shown. */
"use strict";
(() => {
  const {el} = J;
  const query = J.params();
  const state = {since: query.get("since") || "", until: query.get("until") || "",
                 source: query.get("source") || ""};
  const form = el("form", {class: "filters", id: "range"});
  const body = el("div", {id: "cost-body"});
  J.show(el("h1", {text: "Costs"}), form, body);
  const FIELDS = [
    ["input_tokens", "input", "t-in"], ["output_tokens", "output", "t-out"],
    ["cache_write_5m_tokens", "cache write 5m", "t-cw"], ["cache_write_1h_tokens", "cache write 1h", "t-cw1"],
    ["cache_read_tokens", "cache read", "t-cr"],
  ];
  const total = (row) => {
    const parts = FIELDS.map(([name]) => row[name]);
    return parts.includes(null) ? null : parts.reduce((a, b) => a + b, 0);
  };
  const compact = (n) => n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M`
    : n >= 1e3 ? `${(n / 1e3).toFixed(0)}k` : n.toFixed(0);

  function controls() {
    const input = (name, type, label) => {
      const node = el("input", {type, name, value: state[name], "aria-label": label, placeholder: label});
      return el("label", {}, `${label} `, node);
    };
    form.replaceChildren(input("since", "date", "from"), input("until", "date", "to"),
      input("source", "text", "source"), el("button", {type: "submit", text: "Show"}));
    form.onsubmit = (event) => {
      event.preventDefault();
      for (const name of Object.keys(state)) state[name] = form.elements[name].value.trim();
      load();
    };
  }
  function table(data, head) {
    const rows = data.rows.map((row) => el("tr", {"data-key": row.key, class: row.cost_usd === null ? "unpriced" : ""},
      el("td", {text: row.key}), FIELDS.map(([name]) => el("td", {class: "num", text: J.num(row[name])})),
      el("td", {class: "num", text: J.num(total(row))}), el("td", {class: "num", text: J.usd(row.cost_usd, row.cost_source)})));
    const t = data.totals;
    rows.push(el("tr", {class: "total", id: `total-${data.by}`},
      el("td", {text: "TOTAL"}), FIELDS.map(([name]) => el("td", {class: "num", text: J.num(t[name])})),
      el("td", {class: "num", "data-field": "tokens", text: J.num(total(t))}),
      el("td", {class: "num", "data-field": "cost", text: J.usd(t.cost_usd, t.cost_source)})));
    return el("table", {class: "small costs", id: `costs-${data.by}`},
      el("thead", {}, el("tr", {}, [head, ...FIELDS.map((f) => f[1]), "total tokens", "cost"].map((h) => el("th", {text: h})))),
      el("tbody", {}, rows));
  }
  function render(day, model) {
    const t = day.totals;
    const notes = [];
    if (t.unpriced_models.length) {
      notes.push(el("p", {class: "warn", id: "unpriced"},
        `unpriced (tokens counted, no price known): ${t.unpriced_models.join(", ")}`));
    }
    if (t.tokens_unknown_runs) {
      notes.push(el("p", {class: "muted", text: `${t.tokens_unknown_runs} runs whose agent reports no tokens (Cursor)`}));
    }
    const labels = day.rows.map((row) => row.key);
    const unpricedTokens = model.rows.filter((r) => r.cost_usd === null).reduce((a, r) => a + (total(r) || 0), 0);
    body.replaceChildren(
      el("div", {class: "cards"},
        el("div", {class: "card"}, el("span", {class: "muted", text: "cost"}),
          el("strong", {id: "total-cost", text: J.usd(t.cost_usd, t.cost_source)})),
        el("div", {class: "card"}, el("span", {class: "muted", text: "tokens"}),
          el("strong", {id: "total-tokens", text: J.num(total(t))})),
        el("div", {class: "card"}, el("span", {class: "muted", text: "unpriced tokens"}),
          el("strong", {id: "unpriced-tokens", text: J.num(unpricedTokens)})),
        el("div", {class: "card"}, el("span", {class: "muted", text: "responses"}),
          el("strong", {text: J.num(t.responses)}))),
      ...notes,
      el("div", {class: "two"},
        Charts.columns({title: "Cost by day (USD)", labels,
          series: [{name: "cost", cls: "c-cost", values: day.rows.map((r) => r.cost_usd || 0)}],
          format: (v) => "$" + (v >= 10 ? v.toFixed(0) : v.toFixed(2))}),
        Charts.columns({title: "Tokens by day", labels, format: compact,
          series: FIELDS.map(([name, label, cls]) => ({name: label, cls, values: day.rows.map((r) => r[name] || 0)}))})),
      el("div", {class: "two"},
        Charts.bars({title: "Cost by model", items: model.rows.map((r) => ({label: r.key, value: r.cost_usd || 0,
          text: J.usd(r.cost_usd, r.cost_source), cls: r.cost_usd === null ? "unpriced" : "c-cost"}))}),
        Charts.bars({title: "Tokens by model", items: model.rows.map((r) => ({label: r.key, value: total(r) || 0,
          text: compact(total(r) || 0), cls: r.cost_usd === null ? "unpriced" : "t-in"}))})),
      el("h2", {text: "By day"}), table(day, "day"),
      el("h2", {text: "By model"}), table(model, "model"));
  }
  async function load() {
    const text = J.setParams(state);
    const extra = text ? "&" + text : "";
    try {
      const [day, model] = await Promise.all([J.get(`/api/costs?by=day${extra}`), J.get(`/api/costs?by=model${extra}`)]);
      render(day, model);
    } catch (error) { body.replaceChildren(el("p", {class: "error", text: error.message})); }
  }
  controls();
  J.live(load);
  load();
})();
