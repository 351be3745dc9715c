/* The runs page: every session newest first, its subagents under it, filters, search. */
"use strict";
(() => {
  const {el} = J;
  const query = J.params();
  const state = {
    status: query.get("status") || "", source: query.get("source") || "",
    project: query.get("project") || "", day: query.get("day") || "", q: query.get("q") || "",
    offset: Number(query.get("offset") || 0),
  };
  const form = el("form", {class: "filters", id: "filters"});
  const results = el("div", {id: "results"});
  J.show(el("h1", {text: "Runs"}), form, results);

  function select(name, values, label) {
    const node = el("select", {name, "aria-label": label},
      el("option", {value: "", text: `any ${label}`}),
      values.map((v) => el("option", {value: v, text: v, selected: v === state[name]})));
    node.addEventListener("change", () => { state[name] = node.value; state.offset = 0; load(); });
    return el("label", {}, node);
  }
  function filters(facets) {
    const search = el("input", {type: "search", name: "q", value: state.q,
                                placeholder: "search prompts and tool inputs",
                                "aria-label": "search"});
    const day = el("input", {type: "date", name: "day", value: state.day, "aria-label": "day"});
    day.addEventListener("change", () => { state.day = day.value; state.offset = 0; load(); });
    form.onsubmit = (event) => {
      event.preventDefault(); state.q = search.value.trim(); state.offset = 0; load();
    };
    form.replaceChildren(
      select("status", ["active", "ended", "failed", "interrupted"], "status"),
      select("source", facets.source, "source"),
      select("project", facets.project, "project"),
      el("label", {}, day), search, el("button", {type: "submit", text: "Search"}),
      el("button", {type: "button", text: "Clear", onclick: () => {
        Object.assign(state, {status: "", source: "", project: "", day: "", q: "", offset: 0});
        load();
      }}));
  }
  function row(run, child) {
    const name = child
      ? el("span", {class: "child"}, `└ ${run.agent_id}${run.agent_type ? ` (${run.agent_type})` : ""}`)
      : el("a", {href: `/runs/${encodeURIComponent(run.run_id)}`, class: "run-link",
                 title: run.run_id, text: J.shortRun(run.run_id)});
    const cells = [
      name, run.source, J.status(run.status), J.when(run.first_time),
      J.span(run.last_time - run.first_time), J.num(run.prompts), J.num(run.steps),
      run.cost_source === null ? "-" : J.num(run.tokens),
      run.cost_source === null ? "-" : J.usd(run.cost_usd, run.cost_source),
      (run.models || []).join(", ") || "-", child ? "" : (run.project || run.cwd || "-"),
    ];
    const tr = el("tr", {class: `run st-row-${run.status}${child ? " sub" : ""}`,
                         "data-run-id": run.run_id},
      cells.map((cell, i) => el("td", {class: i >= 5 && i <= 8 ? "num" : null}, cell)));
    const rows = [tr];
    if (run.status === "interrupted" && run.resume) {
      rows.push(el("tr", {class: "resume-row"}, el("td", {colspan: cells.length},
        el("span", {class: "muted", text: "interrupted · resume with "}), J.resume(run.resume))));
    }
    return rows;
  }
  function render(page) {
    filters(page.facets);
    const head = ["Run", "Source", "Status", "Started (UTC)", "Lasted", "Prompts", "Steps",
                  "Tokens", "Cost", "Model", "Project"];
    const body = page.runs.flatMap((run) => [
      ...row(run, false), ...run.children.flatMap((sub) => row(sub, true))]);
    const first = page.total ? page.offset + 1 : 0;
    const last = page.offset + page.runs.length;
    const pager = el("div", {class: "pager"},
      el("span", {id: "count", text: `${first}–${last} of ${page.total.toLocaleString("en-US")} sessions`}),
      el("button", {type: "button", text: "‹ newer", disabled: page.offset === 0,
                    onclick: () => { state.offset = Math.max(0, page.offset - page.limit); load(); }}),
      el("button", {type: "button", text: "older ›", disabled: last >= page.total,
                    onclick: () => { state.offset = page.offset + page.limit; load(); }}));
    results.replaceChildren(
      pager,
      page.runs.length
        ? el("table", {class: "runs", id: "runs"},
            el("thead", {}, el("tr", {}, head.map((h) => el("th", {text: h})))),
            el("tbody", {}, body))
        : el("p", {class: "muted", id: "empty", text: "No runs match."}));
  }
  async function load() {
    const text = J.setParams(state);
    try { render(await J.get(`/api/page/runs${text ? "?" + text : ""}`)); }
    catch (error) { results.replaceChildren(el("p", {class: "error", text: error.message})); }
  }
  J.live(load);
  load();
})();
