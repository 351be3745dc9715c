"""A scripted model API on 127.0.0.1 for the real agents: Anthropic Messages and OpenAI Responses.

One :class:`MockModel` serves one test. Its script is a single tool call and a final
answer: the first request of the agent's main loop gets a tool call running
``command`` (Claude Code: ``Bash``; Codex: its shell tool, whichever the request
offers), and the request that carries that call's result gets ``final_text``.
Requests outside the main loop (no tools offered: titles, quota probes) get a short
text answer. With ``subagent=True`` (Anthropic only) the main loop first calls the
``Agent`` tool, in the foreground, with a prompt carrying :data:`SUBAGENT_MARK`; the
subagent's own loop then gets the ``Bash`` call and the final text. With
``stall=True`` the answer to the tool result is never finished: the response starts
and then hangs until the server stops, so a test can kill the agent mid-turn;
:attr:`MockModel.stalled` is set once it hangs.

Every request is recorded in :attr:`MockModel.requests` (method, path, body), so a
test can show what an agent called. Unknown paths get ``{}`` and a 200 (Anthropic's
``count_tokens`` gets a token count), never a connection error.

The stream shapes follow the providers' documented events: Anthropic ``message_start``
/ ``content_block_start`` / ``content_block_delta`` / ``content_block_stop`` /
``message_delta`` (with ``usage``) / ``message_stop``; OpenAI Responses
``response.created`` / ``response.output_item.added`` / ``response.output_item.done``
/ ``response.completed`` (with ``usage``), as codex-rs parses them in
``codex-api/src/sse/responses.rs`` (``process_sse``: ``output_item.done`` items are
``ResponseItem``s, ``response.completed`` carries ``id`` and ``usage``).
"""

from __future__ import annotations

import dataclasses
import gzip
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any, Self

__all__ = ["SUBAGENT_MARK", "MockModel", "Recorded", "ToolCall"]

#: Marks the prompt the mock gives a subagent, so it can tell the two loops apart.
SUBAGENT_MARK = "[mock-subagent]"

# Codex's shell tools, by name, and how each takes a command line.
_CODEX_SHELL_TOOLS: dict[str, Any] = {
    "shell_command": lambda cmd: {"command": cmd},
    "exec_command": lambda cmd: {"cmd": cmd},
    "shell": lambda cmd: {"command": ["bash", "-lc", cmd]},
}


@dataclasses.dataclass(frozen=True)
class ToolCall:
    """One scripted tool call: a tool ``name`` and its ``input``.

    Anthropic: any tool the request offers (``Bash``, ``Write``, ``Edit``…), ``input``
    its arguments. OpenAI Responses (Codex): ``name="shell"`` runs ``input`` (a command
    line) with whichever shell tool the request offers; ``name="apply_patch"`` calls
    Codex's freeform ``apply_patch`` tool with ``input`` (the patch text) as a
    ``custom_tool_call``.
    """

    name: str
    input: Any


@dataclasses.dataclass(frozen=True)
class Recorded:
    """One request the agent made."""

    method: str
    path: str
    body: Any
    at: float


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    model: MockModel


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the requests are recorded, not printed."""

    def _body(self) -> Any:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                raw += self.rfile.read(size)
                self.rfile.readline()
        else:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            raw = gzip.decompress(raw)
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return {"_undecoded": raw[:200].decode("latin-1")}

    def _handle(self) -> None:
        body = self._body() if self.command in ("POST", "PUT", "PATCH") else None
        model = self.server.model
        model.record(Recorded(self.command, self.path, body, time.time()))
        route = self.path.split("?", 1)[0].rstrip("/")
        try:
            if self.command == "POST" and route.endswith("/v1/messages"):
                model.anthropic_messages(self, body or {})
            elif self.command == "POST" and route.endswith("/v1/messages/count_tokens"):
                self.send_json({"input_tokens": 100})
            elif self.command == "POST" and route.endswith("/v1/responses"):
                model.openai_responses(self, body or {})
            elif route.endswith("/v1/models"):
                self.send_json({"object": "list", "data": [], "models": []})
            else:
                self.send_json({})
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def do_CONNECT(self) -> None:
        """A proxied request for another host: recorded and refused (the tests are offline)."""
        self.server.model.record(Recorded("CONNECT", self.path, None, time.time()))
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def send_json(self, value: Any, status: int = 200) -> None:
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def send_event(self, event: dict[str, Any]) -> None:
        chunk = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.flush()

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class MockModel:
    """A scripted model server: tool calls (default: one running ``command``), then ``final_text``.

    ``script`` replaces the single shell call by a sequence of :class:`ToolCall`: the
    n-th request of the main loop that carries n tool results gets the n-th call, the
    one after the last result gets ``final_text``.
    """

    def __init__(
        self,
        command: str,
        final_text: str = "All done.",
        *,
        stall: bool = False,
        subagent: bool = False,
        script: list[ToolCall] | None = None,
    ) -> None:
        self.command = command
        if script is None:
            script = [ToolCall("Bash", {"command": command, "description": "Run the command"})]
        self.script = script
        self.final_text = final_text
        self.stall = stall
        self.subagent = subagent
        self.requests: list[Recorded] = []
        self.stalled = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._counter = 0
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.model = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def paths(self) -> list[str]:
        """``METHOD path`` of every request, in arrival order."""
        with self._lock:
            return [f"{r.method} {r.path}" for r in self.requests]

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}{self._counter:04d}"

    def _hang(self, handler: _Handler) -> None:
        self.stalled.set()
        while not self._release.wait(0.5):
            pass

    # --- Anthropic Messages -------------------------------------------------------

    def anthropic_messages(self, handler: _Handler, body: dict[str, Any]) -> None:
        tools = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
        messages = body.get("messages") or []
        answered = _last_user_blocks(messages, "tool_result")
        done = _count_blocks(messages, "tool_result")
        in_subagent = SUBAGENT_MARK in _user_text(messages)
        blocks: list[dict[str, Any]]
        if "Agent" in tools and self.subagent and not in_subagent and not answered:
            blocks = [
                {
                    "type": "tool_use",
                    "id": self._next_id("toolu_mock"),
                    "name": "Agent",
                    "input": {
                        "description": "Run the command",
                        "prompt": f"{SUBAGENT_MARK} Run {self.command}",
                        "subagent_type": "general-purpose",
                        "run_in_background": False,
                    },
                }
            ]
            stop = "tool_use"
        elif "Bash" in tools and done < len(self.script):
            call = self.script[done]
            blocks = [
                {
                    "type": "tool_use",
                    "id": self._next_id("toolu_mock"),
                    "name": call.name,
                    "input": call.input,
                }
            ]
            stop = "tool_use"
        elif "Bash" in tools and self.stall:
            blocks, stop = [], ""
        else:
            blocks = [{"type": "text", "text": self.final_text if tools else "Mock title"}]
            stop = "end_turn"
        model = str(body.get("model") or "claude-sonnet-4-5")
        message_id = self._next_id("msg_mock")
        if not body.get("stream"):
            handler.send_json(
                {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": blocks,
                    "stop_reason": stop,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 12, "output_tokens": 5},
                }
            )
            return
        handler.start_stream()
        for event in _anthropic_events(message_id, model, blocks, stop):
            handler.send_event(event)
        if not stop:
            self._hang(handler)
            return
        handler.end_stream()

    # --- OpenAI Responses ---------------------------------------------------------

    def _openai_call(self, shell: str, call: ToolCall) -> dict[str, Any]:
        """The Responses output item of one scripted call (Codex's tools: shell, apply_patch)."""
        call_id = self._next_id("call_mock")
        if call.name == "apply_patch":
            return {
                "type": "custom_tool_call",
                "id": self._next_id("ctc_mock"),
                "call_id": call_id,
                "name": "apply_patch",
                "input": call.input,
                "status": "completed",
            }
        command = call.input if call.name == "shell" else self.command
        return {
            "type": "function_call",
            "id": self._next_id("fc_mock"),
            "call_id": call_id,
            "name": shell,
            "arguments": json.dumps(_CODEX_SHELL_TOOLS[shell](command)),
            "status": "completed",
        }

    def openai_responses(self, handler: _Handler, body: dict[str, Any]) -> None:
        tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
        names = [str(t.get("name")) for t in tools]
        shell = next((n for n in _CODEX_SHELL_TOOLS if n in names), None)
        items = body.get("input") or []
        done = sum(
            1
            for i in items
            if isinstance(i, dict)
            and i.get("type") in ("function_call_output", "custom_tool_call_output")
        )
        response_id = self._next_id("resp_mock")
        output: list[dict[str, Any]]
        if shell is not None and done < len(self.script):
            output = [self._openai_call(shell, self.script[done])]
        elif shell is not None and self.stall:
            output = []
        else:
            text = self.final_text if shell is not None else "Mock title"
            output = [
                {
                    "type": "message",
                    "id": self._next_id("msg_mock"),
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            ]
        handler.start_stream()
        model = str(body.get("model") or "gpt-5.5")
        # (a scripted call's item is built above; the stream below sends it)
        base = {"id": response_id, "object": "response", "model": model}
        handler.send_event(
            {"type": "response.created", "response": {**base, "status": "in_progress"}}
        )
        if not output:
            self._hang(handler)
            return
        for index, item in enumerate(output):
            added = {**item, "status": "in_progress"}
            if item["type"] == "message":
                added["content"] = []
            elif item["type"] == "function_call":
                added["arguments"] = ""
            elif item["type"] == "custom_tool_call":
                added["input"] = ""
            handler.send_event(
                {"type": "response.output_item.added", "output_index": index, "item": added}
            )
            if item["type"] == "message":
                handler.send_event(
                    {
                        "type": "response.output_text.delta",
                        "item_id": item["id"],
                        "output_index": index,
                        "content_index": 0,
                        "delta": item["content"][0]["text"],
                    }
                )
            handler.send_event(
                {"type": "response.output_item.done", "output_index": index, "item": item}
            )
        usage = {
            "input_tokens": 120,
            "input_tokens_details": {"cached_tokens": 20},
            "output_tokens": 15,
            "output_tokens_details": {"reasoning_tokens": 5},
            "total_tokens": 135,
        }
        handler.send_event(
            {
                "type": "response.completed",
                "response": {**base, "status": "completed", "output": output, "usage": usage},
            }
        )
        handler.end_stream()


def _count_blocks(messages: list[Any], kind: str) -> int:
    """How many ``kind`` content blocks the user turns of a conversation hold."""
    count = 0
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                count += sum(1 for b in content if isinstance(b, dict) and b.get("type") == kind)
    return count


def _last_user_blocks(messages: list[Any], kind: str) -> list[dict[str, Any]]:
    """The ``kind`` content blocks of the last user message."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return [b for b in content if isinstance(b, dict) and b.get("type") == kind]
            return []
    return []


def _user_text(messages: list[Any]) -> str:
    """All the text of the user turns of a conversation, tool results excluded."""
    parts: list[str] = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(
                str(b.get("text"))
                for b in content
                if isinstance(b, dict) and b.get("type") == "text"
            )
    return "\n".join(parts)


def _anthropic_events(
    message_id: str, model: str, blocks: list[dict[str, Any]], stop: str
) -> Iterator[dict[str, Any]]:
    usage = {
        "input_tokens": 12,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 1,
    }
    yield {
        "type": "message_start",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        },
    }
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            yield {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "text", "text": ""},
            }
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            yield {
                "type": "content_block_start",
                "index": index,
                "content_block": {**block, "input": {}},
            }
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        yield {"type": "content_block_delta", "index": index, "delta": delta}
        yield {"type": "content_block_stop", "index": index}
    if not stop:
        return
    yield {
        "type": "message_delta",
        "delta": {"stop_reason": stop, "stop_sequence": None},
        "usage": {"output_tokens": 25},
    }
    yield {"type": "message_stop"}
