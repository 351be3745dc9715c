// agent-journal OpenCode plugin: forwards OpenCode bus events to the journal, in order.
// Written by `journal hooks install opencode`; `journal hooks uninstall opencode` deletes it.
// Edits are overwritten by the next install.
//
// One long-lived `journal hook opencode --stream` process per OpenCode process takes
// the events as lines on its stdin (`<delivery id>\t<event JSON>`), in arrival order,
// commits whatever is queued in one transaction (or spools it when the journal is
// busy) and answers each durable batch with its last delivery id on stdout. The
// `event` hook only queues the event and writes the line: OpenCode never waits on the
// journal. Events stay in memory until acknowledged:
//   - if the stream process dies, it is started again and the unacknowledged events
//     are sent again (their keys make each one record); after MAX_FAILED_STARTS starts
//     without a single acknowledgement the plugin falls back to one
//     `journal hook opencode` process per event, one at a time, in order;
//   - at most MAX_IN_FLIGHT events are sent unacknowledged; beyond MAX_QUEUED waiting
//     events (a journal stuck for minutes) the oldest go to one-shot hook processes at
//     once, durable but no longer in order;
//   - the stream process is detached: it outlives Ctrl-C and OpenCode's exit, finishes
//     what it was given, and exits at the end of its input. `dispose` hands it what is
//     still queued (to a new one if it died), closes its input and waits until it has
//     acknowledged everything, at most DISPOSE_FLUSH_MS.
//
// Skipped by default (override with AGENT_JOURNAL_OPENCODE_SKIP="a,b"; empty = none):
//   server.heartbeat    undocumented keep-alive, every ~10 s, carries nothing
//   message.part.delta  one frame per streamed token; the finished text arrives again
//                       in the part's terminal `message.part.updated` snapshot

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";

const COMMAND = ["journal", "hook", "opencode"]; // agent-journal:command

const DEFAULT_SKIP = ["server.heartbeat", "message.part.delta"];
const MAX_IN_FLIGHT = 4096;
const MAX_QUEUED = 100000;
const MAX_FAILED_STARTS = 3;
const DISPOSE_FLUSH_MS = 2000;
const STUCK_MS = 5000;

function skipList() {
  const raw = process.env.AGENT_JOURNAL_OPENCODE_SKIP;
  if (raw === undefined) return new Set(DEFAULT_SKIP);
  return new Set(
    raw
      .split(",")
      .map((name) => name.trim())
      .filter((name) => name !== ""),
  );
}

const SKIP = skipList();
// Delivery ids: this plugin instance, then a counter. A re-sent event keeps its id.
const INSTANCE = randomBytes(8).toString("hex");
let counter = 0;
const queue = []; // {id, data}: not yet sent, in order
const inflight = []; // sent to the stream, not yet acknowledged, in order
let stream = null;
let failedStarts = 0;
let oneShot = false;
let disposed = false;

// -- one `journal hook opencode` process per event: the fallback ------------------------

function launch(data, done) {
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    done();
  };
  let child;
  try {
    child = spawn(COMMAND[0], COMMAND.slice(1), {
      stdio: ["pipe", "ignore", "ignore"],
      detached: true,
      windowsHide: true,
    });
  } catch {
    finish();
    return;
  }
  child.on("error", finish);
  child.on("close", finish);
  // A journal that never exits must not stall the queue; the process is left alone.
  const timer = setTimeout(finish, STUCK_MS);
  if (typeof timer.unref === "function") timer.unref();
  child.stdin.on("error", () => {});
  child.stdin.end(data);
  child.unref();
}

let launching = false;

function pumpOneShot() {
  if (launching || queue.length === 0) return;
  launching = true;
  launch(queue.shift().data, () => {
    launching = false;
    pumpOneShot();
  });
}

// -- the stream ---------------------------------------------------------------------------

function unref(handle) {
  if (handle && typeof handle.unref === "function") handle.unref();
}

function ref(handle) {
  if (handle && typeof handle.ref === "function") handle.ref();
}

// Checks `dispose` runs whenever an acknowledgement arrives or the stream goes.
const waiting = new Set();

function notify() {
  for (const check of [...waiting]) check();
}

function startStream() {
  let child;
  try {
    child = spawn(COMMAND[0], [...COMMAND.slice(1), "--stream"], {
      stdio: ["pipe", "pipe", "ignore"],
      detached: true,
      windowsHide: true,
    });
  } catch {
    failedStarts += 1;
    if (failedStarts >= MAX_FAILED_STARTS) oneShot = true;
    return null;
  }
  const current = { child, acked: false, pending: "" };
  child.on("error", () => died(current));
  child.on("close", () => died(current));
  child.stdin.on("error", () => {});
  child.stdout.on("error", () => {});
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk) => acknowledged(current, chunk));
  // Neither the process nor its pipes keep OpenCode alive.
  child.unref();
  unref(child.stdin);
  unref(child.stdout);
  return current;
}

function acknowledged(current, chunk) {
  current.pending += chunk;
  const lines = current.pending.split("\n");
  current.pending = lines.pop();
  for (const id of lines) {
    if (!inflight.some((entry) => entry.id === id)) continue;
    current.acked = true;
    failedStarts = 0;
    while (inflight.length > 0 && inflight.shift().id !== id);
  }
  pump();
  notify();
}

function died(current) {
  if (stream !== current) return;
  stream = null;
  if (!current.acked) failedStarts += 1;
  if (failedStarts >= MAX_FAILED_STARTS) oneShot = true;
  // Whatever it did not acknowledge is sent again, first and in order.
  queue.unshift(...inflight.splice(0));
  if (!disposed) pump();
  else handOver()?.child.stdin.end();
  notify();
}

function handOver() {
  // Shutting down: one last stream takes everything, in order, and finishes alone.
  const last = oneShot ? null : startStream();
  if (last === null) {
    while (queue.length > 0) launch(queue.shift().data, () => {});
    return null;
  }
  stream = last;
  send(last, Infinity);
  return last;
}

function send(current, limit) {
  while (queue.length > 0 && inflight.length < limit) {
    const entry = queue.shift();
    inflight.push(entry);
    current.child.stdin.write(`${entry.id}\t${entry.data}\n`);
  }
}

function pump() {
  if (oneShot) {
    pumpOneShot();
    return;
  }
  if (queue.length === 0) return;
  if (stream === null) stream = startStream();
  if (stream === null) {
    if (oneShot) pumpOneShot();
    return;
  }
  send(stream, MAX_IN_FLIGHT);
}

function forward(event) {
  if (!event || typeof event.type !== "string" || SKIP.has(event.type)) return;
  let data;
  try {
    data = JSON.stringify(event);
  } catch {
    return;
  }
  if (disposed) {
    launch(data, () => {}); // OpenCode is going: no stream to join any more
    return;
  }
  counter += 1;
  queue.push({ id: `${INSTANCE}-${counter}`, data });
  // A journal stuck for long: the oldest waiting events go to processes of their own.
  while (queue.length > MAX_QUEUED) launch(queue.shift().data, () => {});
  pump();
}

async function dispose() {
  if (disposed) return;
  disposed = true;
  if (oneShot) {
    // Start whatever is still queued at once: detached, each outlives OpenCode.
    while (queue.length > 0) launch(queue.shift().data, () => {});
    return;
  }
  let current = stream;
  if (current === null) {
    if (queue.length === 0) return;
    current = handOver();
    if (current === null) return;
  } else {
    send(current, Infinity);
  }
  // Wait (at most DISPOSE_FLUSH_MS, normally a few milliseconds) until the stream has
  // acknowledged everything: until then the bytes may still sit in this process's
  // buffers (Bun writes pipes asynchronously), lost if OpenCode exits. The timer keeps
  // the event loop alive meanwhile; the stream finishes on its own after that.
  ref(current.child.stdout);
  await new Promise((resolve) => {
    const timer = setTimeout(finish, DISPOSE_FLUSH_MS);
    function finish() {
      clearTimeout(timer);
      waiting.delete(check);
      resolve();
    }
    function check() {
      if (inflight.length === 0 || stream !== current) finish();
    }
    waiting.add(check);
    current.child.stdin.end();
    check();
  });
  unref(current.child.stdout);
}

export const AgentJournal = async () => ({
  event: async ({ event }) => {
    forward(event);
  },
  dispose,
});

// OpenCode >= 1.3.4 loads a plugin file from its default export (an id and a server
// function); older versions call each named export instead, which `AgentJournal` serves.
export default { id: "agent-journal", server: AgentJournal };
