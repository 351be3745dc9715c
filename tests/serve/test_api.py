"""``journal serve``'s JSON API and its guards, against a real server on 127.0.0.1.

The API answers what the CLI's ``--json`` prints for the same query (one code path);
the server binds loopback unless told otherwise, answers nothing but GET and HEAD,
and refuses requests for another host name.
"""

from __future__ import annotations

import json
import pathlib
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from tests.serve.conftest import FAILING_SESSION, UNPRICED_MODEL, Server, cli_json

pytestmark = pytest.mark.slow


def fetch(url: str, *, method: str = "GET", host: str | None = None) -> tuple[int, bytes]:
    """Status and body of one request (errors included)."""
    request = urllib.request.Request(url, method=method)
    if host is not None:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def api(server: Server, path: str) -> Any:
    status, body = fetch(server.url + path.lstrip("/"))
    assert status == 200, body
    return json.loads(body)


@pytest.mark.parametrize(
    ("query", "args"),
    [
        ("", ()),
        ("?status=interrupted", ("--status", "interrupted")),
        ("?source=codex", ("--source", "codex")),
        ("?status=ended&idle=5", ("--status", "ended", "--idle", "5")),
    ],
    ids=["all", "interrupted", "codex", "ended-idle"],
)
def test_api_runs_equals_runs_json(
    served: tuple[str, Server], query: str, args: tuple[str, ...]
) -> None:
    """/api/runs answers exactly what ``journal runs --json`` prints for the same options."""
    home, server = served
    expected = cli_json(home, "runs", *args)
    assert expected, "the journal has runs of that kind"
    assert api(server, "/api/runs" + query) == expected


def test_api_run_equals_run_json(served: tuple[str, Server]) -> None:
    """/api/runs/ID answers ``journal run ID --json``, by full id and by prefix."""
    home, server = served
    expected = cli_json(home, "run", FAILING_SESSION)
    assert [s["status"] for s in expected["step_list"]] == ["failed"]
    assert api(server, "/api/runs/" + FAILING_SESSION) == expected
    full = urllib.parse.quote(expected["run_id"], safe="")
    assert api(server, "/api/runs/" + full) == expected


@pytest.mark.parametrize(
    ("query", "args"),
    [
        ("?by=day", ("--by", "day")),
        ("?by=model", ("--by", "model")),
        ("?by=run&breakdown=1", ("--by", "run", "--breakdown")),
        ("?by=day&since=2025-11-14&until=2025-11-14", ("--since", "2025-11-14", "--until", "2025-11-14")),  # noqa: E501
        ("?by=model&source=codex", ("--by", "model", "--source", "codex")),
    ],
    ids=["day", "model", "run-breakdown", "range", "codex"],
)  # fmt: skip
def test_api_costs_equals_costs_json(
    served: tuple[str, Server], query: str, args: tuple[str, ...]
) -> None:
    """/api/costs answers exactly what ``journal costs --json`` prints for the same options."""
    home, server = served
    assert api(server, "/api/costs" + query) == cli_json(home, "costs", *args)


def test_unpriced_tokens_are_in_the_api(served: tuple[str, Server]) -> None:
    """A model without a price keeps its tokens and is named, not counted as $0."""
    _, server = served
    found = api(server, "/api/costs?by=model")
    row = next(row for row in found["rows"] if row["key"] == UNPRICED_MODEL)
    assert row["cost_usd"] is None
    assert row["cache_read_tokens"] > 0
    assert UNPRICED_MODEL in found["totals"]["unpriced_models"]


def test_errors_are_json_with_their_status(served: tuple[str, Server]) -> None:
    """An unknown run is 404 and a bad option 400, each with the CLI's one-line message."""
    _, server = served
    status, body = fetch(server.url + "api/runs/no-such-run")
    assert status == 404
    assert "no-such-run" in json.loads(body)["error"]
    status, body = fetch(server.url + "api/costs?by=week")
    assert status == 400
    assert "--by must be one of" in json.loads(body)["error"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("path", ["", "api/runs", "api/costs", "static/page.html", "nowhere"])
def test_only_get_and_head_are_answered(served: tuple[str, Server], method: str, path: str) -> None:
    """Every method that could write is refused with 405, on every path."""
    _, server = served
    status, _ = fetch(server.url + path, method=method)
    assert status == 405


def test_head_and_the_pages_answer(served: tuple[str, Server]) -> None:
    """HEAD is answered like GET; each page is HTML that loads its bundled script."""
    _, server = served
    assert fetch(server.url + "api/runs", method="HEAD")[0] == 200
    for path, script in [("", "runs.js"), ("costs", "costs.js"), ("runs/x", "run.js")]:
        status, body = fetch(server.url + path)
        assert status == 200
        assert f"/static/{script}".encode() in body
        assert fetch(server.url + f"static/{script}")[0] == 200


def test_another_host_name_is_refused(served: tuple[str, Server]) -> None:
    """A request naming another host (DNS rebinding) gets 400, not the journal."""
    _, server = served
    status, body = fetch(server.url + "api/runs", host="attacker.example:80")
    assert status == 400
    assert b"run_id" not in body


def _listeners(port: int) -> set[str]:
    """The local addresses of the listening TCP sockets on ``port`` (from /proc)."""
    found = set()
    for name in ("tcp", "tcp6"):
        for line in pathlib.Path("/proc/net", name).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if int(port_hex, 16) == port and state == "0A":  # LISTEN
                found.add(address)
    return found


def test_the_default_bind_is_loopback(served: tuple[str, Server]) -> None:
    """Without --host the server listens on 127.0.0.1 only, and says so."""
    _, server = served
    assert server.url.startswith("http://127.0.0.1:")
    assert _listeners(server.port) == {"0100007F"}


def test_another_host_needs_the_flag_and_warns(served: tuple[str, Server]) -> None:
    """--host 0.0.0.0 serves, and warns on stderr that the journal is on the network."""
    home, _ = served
    server = Server(home, "--host", "0.0.0.0")
    try:
        assert _listeners(server.port) == {"00000000"}
    finally:
        err = server.stop()
    assert "warning: serving on 0.0.0.0, not loopback" in err
