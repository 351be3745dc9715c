/* A run's page: its facts, a waterfall of its steps (subagents nested), prompts, costs
   by step and model, and its changes with their diff when the changesets view exists. */
"use strict";
(() => {
  const {el} = J;
  const ident = decodeURIComponent(location.pathname.replace(/^\/runs\//, ""));
  const MARK = {failed: "✗", denied: "⊘", orphaned: "?", running: "…", succeeded: ""};

  function facts(run) {
    const rows = [
      ["Run", run.run_id], ["Session", run.session_id], ["Source", run.source],
      ["Status", J.status(run.status), run.error ? ` (${run.error})` : ""],
      ["Started", `${J.when(run.first_time)} UTC`],
      ["Lasted", J.span(run.last_time - run.first_time)],
      ["Seqs", `${run.first_seq}–${run.last_seq}`], ["Directory", run.cwd || "-"],
      ["Models", (run.models || []).join(", ") || "-"], ["Prompts", J.num(run.prompts)],
      ["Steps", J.num(run.steps)],
    ];
    if (run.parent_run_id) {
      rows.splice(3, 0, ["Parent", el("a", {href: `/runs/${encodeURIComponent(run.parent_run_id)}`,
                                            text: run.parent_run_id})]);
    }
    if (run.resume) rows.push(["Resume", J.resume(run.resume)]);
    return el("dl", {class: "facts"}, rows.flatMap(([name, ...value]) =>
      [el("dt", {text: name}), el("dd", {}, ...value)]));
  }
  function bounds(step, run) {
    let start = step.start_time, end = step.end_time;
    const took = step.duration_ms === null ? null : step.duration_ms * 1e6;
    if (start === null && end !== null) start = took === null ? end : end - took;
    if (end === null && start !== null) end = took === null ? (step.status === "running" ? run.last_time : start) : start + took;
    if (start === null) start = end = run.first_time;
    return [start, Math.max(end, start)];
  }
  function waterfall(detail) {
    const run = detail;
    const steps = detail.step_list;
    const children = detail.children;
    let t0 = run.first_time, t1 = run.last_time;
    const placed = steps.map((step) => ({step, at: bounds(step, run)}));
    for (const {at} of placed) { t0 = Math.min(t0, at[0]); t1 = Math.max(t1, at[1]); }
    for (const child of children) { t0 = Math.min(t0, child.first_time); t1 = Math.max(t1, child.last_time); }
    const total = Math.max(t1 - t0, 1);
    const pct = (ns) => `${(((ns - t0) / total) * 100).toFixed(3)}%`;
    const width = (a, b) => `max(2px, ${(((b - a) / total) * 100).toFixed(3)}%)`;
    function line(step, at, nested) {
      const mark = MARK[step.status] || "";
      const label = el("div", {class: "wlabel", title: step.input || ""},
        el("span", {class: "tool", text: step.tool_name || "?"}),
        step.input ? el("span", {class: "input", text: step.input}) : null);
      const took = step.duration_ms === null ? at[1] - at[0] : step.duration_ms * 1e6;
      const bar = el("span", {class: `wbar st-bar-${step.status}`,
                              style: `left:${pct(at[0])};width:${width(at[0], at[1])}`,
                              title: `${step.status}${step.error ? ": " + step.error : ""} · ${J.span(took)}`});
      return el("div", {class: `wrow step st-step-${step.status}${nested ? " nested" : ""}`,
                        "data-step-id": step.step_id, "data-status": step.status},
        el("span", {class: "wmark", text: mark, title: step.status}), label,
        el("div", {class: "wtrack"}, bar),
        el("span", {class: "wtook", text: J.span(took)}));
    }
    const groups = new Map(children.map((child) => [child.agent_id, []]));
    const items = [];
    for (const item of placed) {
      const agent = item.step.agent_id;
      if (agent && groups.has(agent)) groups.get(agent).push(item);
      else items.push({at: item.at[0], node: line(item.step, item.at, false)});
    }
    for (const child of children) {
      const head = el("div", {class: `wrow subagent st-step-${child.status}`, "data-run-id": child.run_id},
        el("span", {class: "wmark", text: "▾"}),
        el("div", {class: "wlabel"}, el("a", {href: `/runs/${encodeURIComponent(child.run_id)}`,
          class: "tool", text: `subagent ${child.agent_id}`}),
          el("span", {class: "input", text: child.agent_type || ""})),
        el("div", {class: "wtrack"}, el("span", {class: "wbar sub-bar",
          style: `left:${pct(child.first_time)};width:${width(child.first_time, child.last_time)}`})),
        el("span", {class: "wtook", text: J.span(child.last_time - child.first_time)}));
      const nodes = [head, ...groups.get(child.agent_id).map((item) => line(item.step, item.at, true))];
      items.push({at: child.first_time, node: el("div", {class: "wgroup"}, nodes)});
    }
    items.sort((a, b) => a.at - b.at);
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) =>
      el("span", {class: "wtick", style: `left:${f * 100}%`, text: J.span(total * f)}));
    const failed = steps.filter((s) => s.status === "failed").length;
    const denied = steps.filter((s) => s.status === "denied").length;
    return el("section", {id: "timeline"},
      el("h2", {text: `Timeline · ${steps.length} steps`},
        failed ? el("span", {class: "count-failed", text: ` · ${failed} failed`}) : null,
        denied ? el("span", {class: "count-denied", text: ` · ${denied} denied`}) : null),
      steps.length || children.length
        ? el("div", {class: "waterfall"},
            el("div", {class: "wrow axis"}, el("span", {class: "wmark"}), el("div", {class: "wlabel"}),
              el("div", {class: "wtrack"}, ticks), el("span", {class: "wtook"})),
            items.map((item) => item.node))
        : el("p", {class: "muted", text: "No tool calls."}));
  }
  function prompts(list) {
    return el("section", {id: "prompts"}, el("h2", {text: `Prompts · ${list.length}`}),
      list.length ? el("ol", {class: "prompts"}, list.map((p) =>
        el("li", {}, el("span", {class: "muted", text: `#${p.seq} · ${J.when(p.received_at)}`}),
          el("pre", {text: p.text}))))
        : el("p", {class: "muted", text: "No prompts recorded."}));
  }
  function tokens(row) {
    const parts = ["input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
                   "cache_read_tokens"].map((n) => row[n]);
    return parts.includes(null) ? null : parts.reduce((a, b) => a + b, 0);
  }
  function costs(page) {
    const c = page.costs, names = new Map(page.run.step_list.map((s) => [s.step_id, s]));
    const stepRows = c.steps.map((s) => {
      const step = names.get(s.step_id);
      return el("tr", {}, el("td", {text: step ? step.tool_name : s.step_id, title: s.step_id}),
        el("td", {class: "num", text: J.num(tokens(s))}), el("td", {class: "num", text: J.usd(s.cost_usd, s.cost_source)}));
    });
    stepRows.push(el("tr", {class: "muted"}, el("td", {text: "no tool call (answers, thinking)"}),
      el("td", {class: "num", text: J.num(tokens(c.unattributed))}),
      el("td", {class: "num", text: J.usd(c.unattributed.cost_usd, c.unattributed.cost_source)})));
    const table = (head, rows) => el("table", {class: "small"},
      el("thead", {}, el("tr", {}, head.map((h) => el("th", {text: h})))), el("tbody", {}, rows));
    return el("section", {id: "costs"}, el("h2", {text: "Costs"}),
      el("p", {}, "This run: ", el("strong", {id: "run-cost", text: J.usd(c.totals.cost_usd, c.totals.cost_source)}),
        ` · ${J.num(tokens(c.totals))} tokens`,
        c.children.length ? ` · with subagents ${J.usd(c.with_children.cost_usd, c.with_children.cost_source)}` : ""),
      c.totals.unpriced_models.length
        ? el("p", {class: "warn", text: `unpriced (tokens counted, no price known): ${c.totals.unpriced_models.join(", ")}`}) : null,
      el("div", {class: "two"},
        el("div", {}, el("h3", {text: "Session by model"}), table(["Model", "Tokens", "Cost"], page.models.map((m) =>
          el("tr", {}, el("td", {text: m.model}), el("td", {class: "num", text: J.num(tokens(m))}),
            el("td", {class: "num", text: m.unpriced ? "unpriced" : J.usd(m.cost_usd)}))))),
        el("div", {}, el("h3", {text: "By step"}), table(["Step", "Tokens", "Cost"], stepRows))));
  }
  function diffView(text) {
    const pre = el("pre", {class: "diff", id: "diff"});
    for (const line of text.split("\n")) {
      let cls = "";
      if (line.startsWith("+++") || line.startsWith("---") || line.startsWith("diff ")) cls = "d-file";
      else if (line.startsWith("@@")) cls = "d-hunk";
      else if (line.startsWith("+")) cls = "d-add";
      else if (line.startsWith("-")) cls = "d-del";
      pre.append(el("span", {class: cls, text: line + "\n"}));
    }
    return pre;
  }
  function changes(found) {
    const section = el("section", {id: "changes"}, el("h2", {text: "Changes"}));
    if (!found.changes.length) { section.append(el("p", {class: "muted", text: "No file changes."})); return section; }
    section.append(el("table", {class: "small"},
      el("thead", {}, el("tr", {}, ["File", "Operation", "+", "−"].map((h) => el("th", {text: h})))),
      el("tbody", {}, found.changes.map((c) => el("tr", {class: c.retracted ? "muted" : ""},
        el("td", {text: c.path}), el("td", {text: c.operation + (c.retracted ? " (retracted)" : "")}),
        el("td", {class: "num d-add", text: c.additions}), el("td", {class: "num d-del", text: c.deletions}))))),
      diffView(found.diff));
    return section;
  }
  function links(run) {
    const list = run.links || [];
    const link = (id) => el("a", {href: `/runs/${encodeURIComponent(id)}`, text: J.shortRun(id)});
    return el("section", {id: "links"}, el("h2", {text: "Conversation"}),
      run.conversation ? el("p", {}, "Part of conversation ", link(run.conversation)) : null,
      list.length
        ? el("ul", {class: "links"}, list.map((l) => el("li", {},
            l.from_run_id ? link(l.from_run_id) : "?", ` → ${l.relation} → `, link(l.run_id))))
        : el("p", {class: "muted", text: "No links to other sessions."}));
  }
  async function load() {
    try {
      const page = await J.get(`/api/page/runs/${encodeURIComponent(ident)}`);
      document.title = `${J.shortRun(page.run.run_id)} · agent-journal`;
      J.show(el("h1", {}, "Run ", el("span", {class: "mono", id: "run-id", text: page.run.run_id})),
        facts(page.run), waterfall(page.run), prompts(page.prompts), costs(page), changes(page.changes),
        links(page.run));
    } catch (error) { J.failed(error); }
  }
  J.live(load);
  load();
})();
