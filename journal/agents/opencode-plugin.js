// agent-journal OpenCode plugin: forwards OpenCode bus events to `journal hook opencode`.
// Written by `journal hooks install opencode`; `journal hooks uninstall opencode` deletes it.
// Edits are overwritten by the next install.
//
// Each bus event is written, as JSON, to the stdin of one `journal hook opencode`
// process. Processes run one at a time in arrival order (the journal keeps OpenCode's
// order), are detached (an in-flight append survives Ctrl-C and OpenCode exiting), and
// are never awaited: the `event` hook returns at once, so OpenCode never waits on the
// journal. The hook itself never blocks for long: when the journal is busy it spools.
//
// Skipped by default (override with AGENT_JOURNAL_OPENCODE_SKIP="a,b"; empty = none):
//   server.heartbeat    undocumented keep-alive, every ~10 s, carries nothing
//   message.part.delta  one frame per streamed token; the finished text arrives again
//                       in the part's terminal `message.part.updated` snapshot, and a
//                       process per token would cost more than the agent's own work

import { spawn } from "node:child_process";

const COMMAND = ["journal", "hook", "opencode"]; // agent-journal:command

const DEFAULT_SKIP = ["server.heartbeat", "message.part.delta"];
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
const queue = [];
let running = false;

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

function pump() {
  if (running || queue.length === 0) return;
  running = true;
  launch(queue.shift(), () => {
    running = false;
    pump();
  });
}

function flush() {
  // OpenCode is shutting down: start whatever is still queued at once.
  while (queue.length > 0) launch(queue.shift(), () => {});
}

function forward(event) {
  if (!event || typeof event.type !== "string" || SKIP.has(event.type)) return;
  let data;
  try {
    data = JSON.stringify(event);
  } catch {
    return;
  }
  queue.push(data);
  pump();
}

export const AgentJournal = async () => ({
  event: async ({ event }) => {
    forward(event);
  },
  dispose: async () => {
    flush();
  },
});

// OpenCode >= 1.3.4 loads a plugin file from its default export (an id and a server
// function); older versions call each named export instead, which `AgentJournal` serves.
export default { id: "agent-journal", server: AgentJournal };
