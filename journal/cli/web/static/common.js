/* Shared by every page: DOM building (text only, never HTML from the journal),
   formatting as the CLI formats, the API, and the live head stream. */
"use strict";
const J = (() => {
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, String(value));
    }
    for (const child of children.flat()) if (child) node.append(child);
    return node;
  }
  function usd(value, source) {
    if (value === null || value === undefined) return "unpriced";
    const text = value >= 0.01 || value === 0
      ? "$" + value.toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2})
      : "$" + value.toFixed(4);
    return text + (source === "mixed" ? "*" : "");
  }
  function num(value) {
    return value === null || value === undefined ? "?" : value.toLocaleString("en-US");
  }
  function when(ns) {
    if (!ns) return "-";
    return new Date(ns / 1e6).toISOString().replace("T", " ").slice(0, 19);
  }
  function span(ns) {
    if (ns === null || ns === undefined || Number.isNaN(ns)) return "-";
    const s = ns / 1e9;
    if (s < 1) return `${Math.round(s * 1000)}ms`;
    if (s < 60) return `${s.toFixed(1)}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  }
  function shortRun(id) {
    const [source, ...rest] = id.split("/");
    const session = rest[0] || "";
    const agent = rest.slice(1).join("/");
    return `${source}/${session.slice(0, 8)}${agent ? "/" + agent : ""}`;
  }
  async function get(url) {
    const early = window.J_PREFETCH;  // the first call of the page: its data, already asked
    window.J_PREFETCH = null;
    const response = await (early || fetch(url, {headers: {Accept: "application/json"}}));
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    return body;
  }
  function status(value) {
    return el("span", {class: `status st-${value}`, text: value});
  }
  function copyButton(text) {
    return el("button", {
      class: "copy", type: "button", title: "copy to the clipboard", text: "copy",
      onclick: async (event) => {
        const button = event.currentTarget;
        try { await navigator.clipboard.writeText(text); button.textContent = "copied"; }
        catch (_) { button.textContent = "select and copy"; }
        setTimeout(() => { button.textContent = "copy"; }, 1500);
      },
    });
  }
  function resume(command) {
    return el("span", {class: "resume"}, el("code", {text: command}), copyButton(command));
  }
  function show(...nodes) {
    const main = document.getElementById("main");
    main.replaceChildren(...nodes);
  }
  function failed(error) {
    show(el("p", {class: "error", text: String(error.message || error)}));
  }
  /* Call `refresh` whenever the journal's head moves (server-sent events);
     calls overlapping a running refresh are folded into one more after it. */
  function live(refresh) {
    const badge = document.getElementById("live");
    let seen = null, busy = false, again = false;
    async function run() {
      if (busy) { again = true; return; }
      busy = true;
      try { await refresh(); } catch (error) { console.error(error); }
      busy = false;
      if (again) { again = false; run(); }
    }
    const source = new EventSource("/api/events");
    source.addEventListener("head", (event) => {
      const head = Number(event.data);
      badge.textContent = `live · head ${head.toLocaleString("en-US")}`;
      badge.className = "live on";
      badge.dataset.head = String(head);
      if (seen !== null && head !== seen) run();
      seen = head;
    });
    source.onerror = () => { badge.textContent = "reconnecting…"; badge.className = "live off"; };
    return run;
  }
  function params() { return new URLSearchParams(location.search); }
  function setParams(values) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(values)) if (value) query.set(name, value);
    const text = query.toString();
    history.replaceState(null, "", location.pathname + (text ? "?" + text : ""));
    return text;
  }
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === document.body.dataset.page) link.classList.add("here");
  }
  return {el, svg, usd, num, when, span, shortRun, get, status, resume, copyButton, show,
          failed, live, params, setParams};
})();
