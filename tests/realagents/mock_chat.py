"""Two more scripted model APIs on 127.0.0.1: OpenAI Chat Completions and Gemini.

:class:`ChatModel` is a :class:`~tests.realagents.mockapi.MockModel` (same recording,
``stalled`` event and proxy refusal) whose server also answers

- ``POST …/chat/completions`` (what OpenCode's ``@ai-sdk/openai-compatible`` provider
  calls): a streamed ``chat.completion.chunk`` sequence, ``data: [DONE]`` at the end,
  usage in the last chunk (``stream_options.include_usage``);
- ``POST …/models/<model>:streamGenerateContent?alt=sse`` (Gemini CLI with
  ``GOOGLE_GEMINI_BASE_URL``): ``data: <GenerateContentResponse>`` events, and
  ``:generateContent`` (its side calls: routing, next-speaker checks, which ask for
  JSON) and ``:countTokens``.

The script is ``commands``: while a request of the main loop (one that offers the
shell tool) carries fewer tool results than there are commands, it gets a call of the
next command; then the final text. A request without the shell tool (titles,
summaries) gets a short text. ``stall=True``: the answer to the first tool result
starts and never finishes (the test kills the agent meanwhile).
"""

from __future__ import annotations

import json
import time
from typing import Any

from tests.realagents.mockapi import MockModel, Recorded, _Handler

__all__ = ["GEMINI_MODEL", "ChatModel"]

#: The model Gemini CLI is told to use (``--model``), and that the mock reports.
GEMINI_MODEL = "gemini-2.5-flash"
_OPENCODE_SHELL = "bash"
_GEMINI_SHELL = "run_shell_command"
# What Gemini CLI's side calls parse (JSON asked for by schema): a next speaker, a route.
_GEMINI_SIDE_ANSWER = {
    "reasoning": "mock",
    "next_speaker": "user",
    "model_choice": "flash",
}


class _ChatHandler(_Handler):
    def _handle(self) -> None:
        route = self.path.split("?", 1)[0].rstrip("/")
        model = self.server.model
        assert isinstance(model, ChatModel)
        if self.command != "POST" or not (
            route.endswith("/chat/completions") or ":" in route.rsplit("/", 1)[-1]
        ):
            super()._handle()
            return
        body = self._body() or {}
        model.record(Recorded(self.command, self.path, body, time.time()))
        try:
            if route.endswith("/chat/completions"):
                model.chat_completions(self, body)
            elif route.endswith(":streamGenerateContent"):
                model.gemini_stream(self, body, route)
            elif route.endswith(":generateContent"):
                model.gemini_generate(self, body, route)
            elif route.endswith(":countTokens"):
                self.send_json({"totalTokens": 100})
            else:
                self.send_json({})
        except (BrokenPipeError, ConnectionResetError):
            pass

    # The base class binds its own ``_handle`` to these names.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def send_data(self, value: Any) -> None:
        """One server-sent event with only a ``data:`` line (both APIs' framing)."""
        text = value if isinstance(value, str) else json.dumps(value)
        chunk = f"data: {text}\n\n".encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.flush()


class ChatModel(MockModel):
    """The mock of :mod:`mockapi`, answering Chat Completions and Gemini as well."""

    def __init__(
        self, commands: list[str], final_text: str = "All done.", *, stall: bool = False
    ) -> None:
        super().__init__(commands[0], final_text, stall=stall)
        self.commands = list(commands)
        self._server.RequestHandlerClass = _ChatHandler

    def _step(self, offered: bool, answered: int) -> str | None:
        """The command to call next, or None for the final (or a side) answer."""
        if offered and answered < len(self.commands):
            return self.commands[answered]
        return None

    # --- OpenAI Chat Completions ----------------------------------------------------

    def chat_completions(self, handler: _ChatHandler, body: dict[str, Any]) -> None:
        names = {
            (t.get("function") or {}).get("name")
            for t in body.get("tools") or []
            if isinstance(t, dict)
        }
        offered = _OPENCODE_SHELL in names
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        answered = sum(1 for m in messages if m.get("role") == "tool")
        command = self._step(offered, answered)
        model = str(body.get("model") or "mock-model")
        chunk_id = self._next_id("chatcmpl-mock")

        def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            return {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        handler.start_stream()
        handler.send_data(chunk({"role": "assistant", "content": ""}, None))
        if command is None and offered and self.stall and answered:
            self._hang(handler)
            return
        if command is not None:
            arguments = {"command": command, "description": "Run the command"}
            call = {
                "index": 0,
                "id": self._next_id("call_mock"),
                "type": "function",
                "function": {"name": _OPENCODE_SHELL, "arguments": json.dumps(arguments)},
            }
            handler.send_data(chunk({"tool_calls": [call]}, None))
            handler.send_data(chunk({}, "tool_calls"))
        else:
            text = self.final_text if offered else "Mock title"
            handler.send_data(chunk({"content": text}, None))
            handler.send_data(chunk({}, "stop"))
        usage = {"prompt_tokens": 120, "completion_tokens": 15, "total_tokens": 135}
        handler.send_data({**chunk({}, None), "choices": [], "usage": usage})
        handler.send_data("[DONE]")
        handler.end_stream()

    # --- Gemini -------------------------------------------------------------------------

    def _gemini_script(self, body: dict[str, Any]) -> tuple[bool, int, str | None]:
        names = {
            d.get("name")
            for t in body.get("tools") or []
            if isinstance(t, dict)
            for d in t.get("functionDeclarations") or []
            if isinstance(d, dict)
        }
        offered = _GEMINI_SHELL in names
        answered = sum(
            1
            for c in body.get("contents") or []
            if isinstance(c, dict)
            for p in c.get("parts") or []
            if isinstance(p, dict) and "functionResponse" in p
        )
        return offered, answered, self._step(offered, answered)

    def _gemini_response(self, parts: list[dict[str, Any]], model: str) -> dict[str, Any]:
        return {
            "candidates": [
                {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": {
                "promptTokenCount": 120,
                "candidatesTokenCount": 15,
                "thoughtsTokenCount": 5,
                "totalTokenCount": 140,
            },
            "modelVersion": model,
            "responseId": self._next_id("resp_mock"),
        }

    def gemini_stream(self, handler: _ChatHandler, body: dict[str, Any], route: str) -> None:
        offered, answered, command = self._gemini_script(body)
        model = _gemini_model(route)
        handler.start_stream()
        if command is None and offered and self.stall and answered:
            self._hang(handler)
            return
        if command is not None:
            args = {"command": command, "description": "Run the command"}
            parts: list[dict[str, Any]] = [{"functionCall": {"name": _GEMINI_SHELL, "args": args}}]
        else:
            parts = [{"text": self.final_text if offered else "Mock title"}]
        handler.send_data(self._gemini_response(parts, model))
        handler.end_stream()

    def gemini_generate(self, handler: _ChatHandler, body: dict[str, Any], route: str) -> None:
        text = json.dumps(_GEMINI_SIDE_ANSWER)
        handler.send_json(self._gemini_response([{"text": text}], _gemini_model(route)))


def _gemini_model(route: str) -> str:
    """``gemini-2.5-flash`` of ``…/models/gemini-2.5-flash:streamGenerateContent``."""
    last = route.rsplit("/", 1)[-1]
    return last.split(":", 1)[0] or GEMINI_MODEL
