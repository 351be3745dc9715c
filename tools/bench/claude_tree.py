"""Generate a Claude Code transcript tree with known usage, and the truth about it.

A ``~/.claude/projects``-shaped tree: ``projects/<slug>/<session>.jsonl`` per session
and ``projects/<slug>/<session>/subagents/agent-<id>.jsonl`` per subagent, written as
Claude Code writes them (compact JSON, one object per line): user prompts, assistant
responses, tool results with sizeable output, ``progress``, ``system`` and
``file-history-snapshot`` lines. Each API response is written the way real ones are:
some as streamed partial lines (``output_tokens`` 1, 1, …, then the final count, as
measured), and always one line per content block (text, tool uses), every line of a
response repeating its ``message.id``, ``requestId`` and usage. Sessions use several
models, 5-minute and 1-hour cache writes, span several days (some cross midnight),
and a fifth of them run subagents.

The truth is computed here from each response's final usage with the list prices
below (USD per million tokens; the same genai-prices and ccusage use), independently
of the code under test: tokens and dollars per UTC day, per session and per model.

    .venv/bin/python -m tools.bench.claude_tree OUT_DIR [--sessions N] [--seed S]

prints the truth as JSON (``{"days": {...}, "sessions": {...}, "models": {...},
"totals": {...}, "lines": N, "bytes": N}``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sys
import uuid
from decimal import Decimal
from typing import Any

__all__ = ["PRICES", "generate", "response_cost"]

#: USD per million tokens: input, output, 5-minute cache write, 1-hour cache write,
#: cache read (Anthropic's list prices for these models).
PRICES: dict[str, tuple[str, str, str, str, str]] = {
    "claude-sonnet-4-5-20250929": ("3", "15", "3.75", "6", "0.3"),
    "claude-opus-4-5-20251101": ("5", "25", "6.25", "10", "0.5"),
    "claude-haiku-4-5-20251001": ("1", "5", "1.25", "2", "0.1"),
    "claude-opus-4-1-20250805": ("15", "75", "18.75", "30", "1.5"),
}
_MODEL_WEIGHTS = [
    ("claude-sonnet-4-5-20250929", 6),
    ("claude-opus-4-5-20251101", 2),
    ("claude-haiku-4-5-20251001", 1),
    ("claude-opus-4-1-20250805", 1),
]
_FIELDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
_SENTENCE = (
    "the function returns a list of paths that match the pattern and skips hidden "
    "directories unless asked; tests cover the empty tree, symlinks and permission "
    "errors. def walk(root): for entry in os.scandir(root): yield entry.path"
)
_WORDS = tuple(_SENTENCE.split())
_ID = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789"


def response_cost(model: str, usage: dict[str, int]) -> Decimal:
    """The list price of one response's usage (the truth)."""
    prices = PRICES[model]
    total = Decimal(0)
    for name, price in zip(_FIELDS, prices, strict=True):
        total += Decimal(usage[name]) * Decimal(price) / 1_000_000
    return total


def _text(rng: random.Random, size: int) -> str:
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)


def _stamp(t: datetime.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class _Writer:
    """One transcript file being written, and the truth it adds to."""

    def __init__(self, path: str, truth: Truth, session: str, cwd: str, agent: str | None):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.f = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.truth = truth
        self.session = session
        self.cwd = cwd
        self.agent = agent
        self.parent: str | None = None

    def line(self, obj: dict[str, Any]) -> None:
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        self.f.write(text + "\n")
        self.truth.lines += 1
        self.truth.bytes += len(text.encode()) + 1

    def base(self, kind: str, t: datetime.datetime, rng: random.Random) -> dict[str, Any]:
        uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        obj: dict[str, Any] = {
            "parentUuid": self.parent,
            "isSidechain": self.agent is not None,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session,
            "version": "2.1.332",
            "gitBranch": "main",
        }
        if self.agent is not None:
            obj["agentId"] = self.agent
        obj.update({"type": kind, "uuid": uid, "timestamp": _stamp(t)})
        self.parent = uid
        return obj

    def close(self) -> None:
        self.f.close()


class Truth:
    """Tokens and dollars per day, session and model, from the responses written."""

    def __init__(self) -> None:
        self.days: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.models: dict[str, dict[str, Any]] = {}
        self.totals = self._empty()
        self.lines = 0
        self.bytes = 0
        self.responses = 0

    @staticmethod
    def _empty() -> dict[str, Any]:
        return {**dict.fromkeys(_FIELDS, 0), "cost": Decimal(0)}

    def add(self, day: str, session: str, model: str, usage: dict[str, int]) -> None:
        cost = response_cost(model, usage)
        self.responses += 1
        for table, key in ((self.days, day), (self.sessions, session), (self.models, model)):
            row = table.setdefault(key, self._empty())
            for f in _FIELDS:
                row[f] += usage[f]
            row["cost"] += cost
        for f in _FIELDS:
            self.totals[f] += usage[f]
        self.totals["cost"] += cost

    def to_dict(self) -> dict[str, Any]:
        def plain(row: dict[str, Any]) -> dict[str, Any]:
            return {**row, "cost": str(row["cost"])}

        return {
            "days": {k: plain(v) for k, v in sorted(self.days.items())},
            "sessions": {k: plain(v) for k, v in sorted(self.sessions.items())},
            "models": {k: plain(v) for k, v in sorted(self.models.items())},
            "totals": plain(self.totals),
            "lines": self.lines,
            "bytes": self.bytes,
            "responses": self.responses,
        }


def _usage(rng: random.Random, context: int, hour: bool) -> dict[str, int]:
    written = rng.choice([0, 0, rng.randint(50, 6000)])
    one_hour = written if hour and rng.random() < 0.7 else 0
    return {
        "input": rng.randint(1, 12),
        "output": rng.randint(20, 2500),
        "cache_write_5m": written - one_hour,
        "cache_write_1h": one_hour,
        "cache_read": context,
    }


def _wire_usage(usage: dict[str, int], output: int) -> dict[str, Any]:
    writes = usage["cache_write_5m"] + usage["cache_write_1h"]
    return {
        "input_tokens": usage["input"],
        "cache_creation_input_tokens": writes,
        "cache_read_input_tokens": usage["cache_read"],
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage["cache_write_5m"],
            "ephemeral_1h_input_tokens": usage["cache_write_1h"],
        },
        "output_tokens": output,
        "service_tier": "standard",
    }


def _response(
    w: _Writer,
    rng: random.Random,
    t: datetime.datetime,
    model: str,
    usage: dict[str, int],
    tools: int,
) -> list[str]:
    """Write one API response's lines; return the tool use ids it issued."""
    message_id = "msg_01" + "".join(
        rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789", k=22)
    )
    request_id = "req_011C" + "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", k=20))
    blocks: list[dict[str, Any]] = [{"type": "text", "text": _text(rng, rng.randint(40, 400))}]
    ids = []
    for _ in range(tools):
        tool_id = "toolu_01" + "".join(
            rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijk0123456789", k=22)
        )
        ids.append(tool_id)
        blocks.append(
            {
                "type": "tool_use",
                "id": tool_id,
                "name": rng.choice(["Read", "Edit", "Bash", "Grep", "Write"]),
                "input": {"file_path": f"{w.cwd}/src/mod{rng.randint(1, 40)}.py"},
            }
        )
    partials = rng.choice([0, 0, 1, 3, 5]) if blocks else 0
    for _ in range(partials):  # streamed partial lines: output_tokens 1, stop_reason null
        line = w.base("assistant", t, rng)
        line["message"] = {
            "model": model,
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "content": [blocks[0]],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _wire_usage(usage, 1),
        }
        line["requestId"] = request_id
        w.line(line)
    for block in blocks:  # one line per content block, each with the full usage
        line = w.base("assistant", t, rng)
        line["message"] = {
            "model": model,
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "content": [block],
            "stop_reason": "tool_use" if ids else "end_turn",
            "stop_sequence": None,
            "usage": _wire_usage(usage, usage["output"]),
        }
        line["requestId"] = request_id
        w.line(line)
    w.truth.add(t.date().isoformat(), w.session, model, usage)
    return ids


def _tool_results(w: _Writer, rng: random.Random, t: datetime.datetime, ids: list[str]) -> None:
    for tool_id in ids:
        line = w.base("user", t, rng)
        output = _text(rng, rng.choice([100, 300, 800, 2500]))
        line["message"] = {
            "role": "user",
            "content": [{"tool_use_id": tool_id, "type": "tool_result", "content": output}],
        }
        line["toolUseResult"] = {"stdout": output, "stderr": "", "interrupted": False}
        w.line(line)
        for event in ("PreToolUse", "PostToolUse"):  # most lines of a real transcript
            progress = w.base("progress", t, rng)
            progress["data"] = {
                "type": "hook_progress",
                "hookEvent": event,
                "hookName": f"{event}:Bash",
                "command": "journal hook claude-code",
            }
            progress["parentToolUseID"] = tool_id
            progress["toolUseID"] = tool_id
            w.line(progress)


def _conversation(
    w: _Writer,
    rng: random.Random,
    t: datetime.datetime,
    model: str,
    turns: int,
    hour: bool,
) -> datetime.datetime:
    context = rng.randint(8000, 20000)
    for _ in range(turns):
        prompt = w.base("user", t, rng)
        prompt["message"] = {"role": "user", "content": _text(rng, rng.randint(20, 300))}
        w.line(prompt)
        for step in range(rng.randint(1, 6)):
            t += datetime.timedelta(seconds=rng.randint(2, 40))
            if rng.random() < 0.05:
                model = rng.choice([m for m, _ in _MODEL_WEIGHTS])
            tools = rng.choice([0, 1, 1, 1, 2, 3]) if step < 5 else 0
            ids = _response(w, rng, t, model, _usage(rng, context, hour), tools)
            context = min(context + rng.randint(200, 4000), 180_000)
            t += datetime.timedelta(seconds=rng.randint(1, 20))
            _tool_results(w, rng, t, ids)
            if not ids:
                break
        if rng.random() < 0.3:
            system = w.base("system", t, rng)
            system.update({"subtype": "stop_hook_summary", "hookCount": 1, "level": "suggestion"})
            w.line(system)
        t += datetime.timedelta(seconds=rng.randint(30, 1800))
    return t


def generate(
    root: str,
    *,
    sessions: int = 100,
    seed: int = 1,
    start: datetime.date = datetime.date(2025, 11, 3),
    days: int = 7,
    turns: tuple[int, int] = (10, 60),
) -> Truth:
    """Write the tree under ``root`` (``root/projects/...``); return the truth."""
    rng = random.Random(seed)
    truth = Truth()
    projects = [f"/home/dev/src/project-{i}" for i in range(8)]
    weights = [w for _, w in _MODEL_WEIGHTS]
    for _ in range(sessions):
        session = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        cwd = rng.choice(projects)
        slug = cwd.replace("/", "-")
        model = rng.choices([m for m, _ in _MODEL_WEIGHTS], weights)[0]
        hour = rng.random() < 0.4
        when = datetime.datetime.combine(
            start + datetime.timedelta(days=rng.randrange(days)),
            datetime.time(rng.randrange(24), rng.randrange(60)),
            tzinfo=datetime.UTC,
        )
        path = os.path.join(root, "projects", slug, f"{session}.jsonl")
        w = _Writer(path, truth, session, cwd, None)
        snapshot = w.base("file-history-snapshot", when, rng)
        snapshot["snapshot"] = {"trackedFileBackups": {}, "timestamp": _stamp(when)}
        w.line(snapshot)
        end = _conversation(w, rng, when, model, rng.randint(*turns), hour)
        w.close()
        if rng.random() < 0.2:
            for _ in range(rng.randint(1, 3)):
                agent = f"a{rng.getrandbits(64):016x}"[:17]
                sub = os.path.join(
                    root, "projects", slug, session, "subagents", f"agent-{agent}.jsonl"
                )
                sw = _Writer(sub, truth, session, cwd, agent)
                begin = when + (end - when) * rng.random()
                _conversation(sw, rng, begin, model, rng.randint(1, 3), hour)
                sw.close()
    return truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    truth = generate(args.out, sessions=args.sessions, seed=args.seed)
    json.dump(truth.to_dict(), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
