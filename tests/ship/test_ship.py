"""``journal ship`` / ``journal pull`` against a real ``nats-server -js`` on 127.0.0.1."""

from __future__ import annotations

import contextlib
import hashlib
import json
import pathlib
import random
import signal
import subprocess
import time
from typing import Any

import pytest

from journal.export import origin_names, split_envelope
from journal.store import LmdbJournal
from tests.conftest import JOURNAL_BIN
from tests.projections.costlines import claude_response, claude_usage

from .conftest import NatsServer, create_stream, journal_env, stream_count, stream_messages

pytestmark = pytest.mark.slow

STREAM = "AGENT_JOURNAL"
#: The smallest window JetStream allows: shorter than a shipper's restart, so exactly
#: once must come from the shipper's own checkpoint and scan, not from dedup.
TINY_WINDOW = 0.1


def journal(home: str, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, *args],
        input=data,
        capture_output=True,
        env=journal_env(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done


def events(source_tag: str, n: int, start: int = 0) -> bytes:
    lines = []
    for i in range(start, start + n):
        session = f"{source_tag}-s{i % 3}"
        kind = "SessionStart" if i < 3 else ("Stop" if i % 7 == 0 else "PreToolUse")
        lines.append(
            json.dumps(
                {
                    "hook_event_name": kind,
                    "session_id": session,
                    "cwd": f"/work/{source_tag}",
                    "tool_name": "Bash",
                    "tool_input": {"command": f"echo {i}"},
                    "tool_use_id": f"{source_tag}-t{i}",
                }
            )
        )
    return ("\n".join(lines) + "\n").encode()


def fill(home: str, source_tag: str, n: int, start: int = 0) -> None:
    journal(home, "append", "--batch", "--source", "claude-code", data=events(source_tag, n, start))


def fill_here(home: str, n: int, start: int) -> None:
    """``fill``, in this process (no CLI start-up): for tests that fill many times."""
    with LmdbJournal(home) as j:
        j.append_batch(events("alice", n, start).splitlines(), source="claude-code")


def ship(home: str, url: str, *extra: str) -> dict[str, int]:
    out: dict[str, int] = json.loads(journal(home, "ship", "--to", url, "--json", *extra).stdout)
    return out


def origin_of(home: str) -> str:
    info = json.loads(journal(home, "origin", "--json").stdout)
    return str(info["origin"])


def assert_exactly_once(url: str, homes: list[str]) -> None:
    """The stream holds each record of each journal once, with its bytes and digest."""
    messages = stream_messages(url, STREAM)
    ids = [headers["Nats-Msg-Id"] for _, headers, _ in messages]
    assert len(ids) == len(set(ids)), "a record reached the stream twice"
    expected = set()
    for home in homes:
        origin = origin_of(home)
        with LmdbJournal(home, readonly=True) as j:
            expected |= {f"{origin}:{r.seq}" for r in j.read()}
    assert set(ids) == expected
    for subject, headers, body in messages:
        envelope, payload = split_envelope(body)
        assert hashlib.sha256(payload).hexdigest() == envelope.digest
        assert headers["Agent-Journal-Digest"] == envelope.digest
        assert subject == f"agent-journal.{envelope.origin}.{envelope.source}"


def test_two_journals_ship_and_a_third_pulls_both(
    tmp_path: pathlib.Path, nats_server: NatsServer
) -> None:
    """Two journals ship to one stream; a team journal pulls both, keeping every origin,
    origin seq, source, kind, event time and payload digest; pulling again adds nothing."""
    a, b, team = (str(tmp_path / n) for n in ("a", "b", "team"))
    fill(a, "alice", 300)
    fill(b, "bob", 200)
    journal(a, "origin", "--name", "alice-laptop")
    url = nats_server.url
    assert ship(a, url, "--create-stream") == {"shipped": 300, "checkpoint": 300}
    assert ship(b, url) == {"shipped": 200, "checkpoint": 200}
    assert ship(a, url) == {"shipped": 0, "checkpoint": 300}
    assert_exactly_once(url, [a, b])

    pulled = json.loads(journal(team, "pull", "--from", url, "--json").stdout)
    assert pulled == {"pulled": 500, "checkpoint": 500}
    again = json.loads(journal(team, "pull", "--from", url, "--json").stdout)
    assert again == {"pulled": 0, "checkpoint": 500}

    def facts(home: str) -> set[tuple[object, ...]]:
        local = origin_of(home)
        with LmdbJournal(home, readonly=True) as j:
            return {
                (*r.origin_of(local), r.source, r.kind, r.received_at, r.digest, r.payload)
                for r in j.read()
            }

    with LmdbJournal(team, readonly=True) as j:
        assert j.head() == 500
        assert j.verify().ok
    assert facts(team) == facts(a) | facts(b)
    assert origin_names(team) == {origin_of(a): "alice-laptop"}
    assert json.loads(journal(team, "verify", "--json").stdout)["ok"] is True


def test_the_team_journals_runs_match_the_sources(
    tmp_path: pathlib.Path, nats_server: NatsServer
) -> None:
    """``runs --json`` of the team journal lists the runs of both sources, each with the
    same session, status, steps and event times as on its own machine."""
    a, b, team = (str(tmp_path / n) for n in ("a", "b", "team"))
    fill(a, "alice", 40)
    fill(b, "bob", 30)
    ship(a, nats_server.url, "--create-stream")
    ship(b, nats_server.url)
    journal(team, "pull", "--from", nats_server.url)

    def runs(home: str) -> dict[str, tuple[object, ...]]:
        items = json.loads(journal(home, "runs", "--json").stdout)
        return {
            r["run_id"]: (r["session_id"], r["source"], r["steps"], r["first_time"], r["last_time"])
            for r in items
        }

    assert runs(team) == runs(a) | runs(b)
    assert len(runs(team)) == 6
    # Each run names the journal it was first appended to: on its own machine that
    # journal's own origin, in the team journal the same.
    origins = {h: origin_of(h) for h in (a, b, team)}
    for home in (a, b):
        items = json.loads(journal(home, "runs", "--json").stdout)
        assert {r["origin"] for r in items} == {origins[home]}
    team_items = json.loads(journal(team, "runs", "--json").stdout)
    by_run = {r["run_id"]: r["origin"] for r in team_items}
    for home in (a, b):
        for r in json.loads(journal(home, "runs", "--json").stdout):
            assert by_run[r["run_id"]] == origins[home]
    assert origins[team] not in by_run.values()


def test_ship_killed_at_random_points_ships_exactly_once(
    tmp_path: pathlib.Path, nats_server: NatsServer
) -> None:
    """SIGKILL ``ship`` at random moments over 20 rounds (records landing in between),
    then let it finish: the stream holds every record exactly once."""
    home = str(tmp_path / "a")
    fill_here(home, 30_000, 0)
    create_stream(nats_server.url, STREAM, duplicate_window=TINY_WINDOW)
    rng = random.Random(10)
    killed_mid_way = cut_mid_ship = 0
    for round_ in range(20):
        proc = subprocess.Popen(
            [JOURNAL_BIN, "--home", home, "ship", "--to", nats_server.url, "--json"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=journal_env(),
        )
        time.sleep(rng.uniform(0.3, 1.0))
        if proc.poll() is None:
            killed_mid_way += 1
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        with LmdbJournal(home, readonly=True) as j:
            if 0 < stream_count(nats_server.url, STREAM) < j.head():
                cut_mid_ship += 1
        fill_here(home, 1_500, 30_000 + round_ * 1_500)
    final = ship(home, nats_server.url)
    with LmdbJournal(home, readonly=True) as j:
        head = j.head()
    assert final["checkpoint"] == head
    assert stream_count(nats_server.url, STREAM) == head
    assert_exactly_once(nats_server.url, [home])
    assert killed_mid_way > 0
    assert cut_mid_ship > 0  # some rounds really were cut short while shipping


def test_server_restarted_mid_ship_loses_and_doubles_nothing(
    tmp_path: pathlib.Path, nats_server: NatsServer
) -> None:
    """Kill -9 and restart the NATS server while ``ship`` runs: ship rides it out and
    the stream ends with every record once."""
    home = str(tmp_path / "a")
    fill(home, "alice", 30_000)
    create_stream(nats_server.url, STREAM, duplicate_window=TINY_WINDOW)
    proc = subprocess.Popen(
        [JOURNAL_BIN, "--home", home, "ship", "--to", nats_server.url, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=journal_env(),
    )
    deadline = time.monotonic() + 120
    while stream_count(nats_server.url, STREAM) == 0:
        assert time.monotonic() < deadline
        assert proc.poll() is None
        time.sleep(0.02)
    nats_server.kill()
    time.sleep(0.5)
    nats_server.start()
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err.decode()
    assert json.loads(out)["checkpoint"] == 30_000
    assert stream_count(nats_server.url, STREAM) == 30_000
    assert_exactly_once(nats_server.url, [home])


def test_pull_quarantines_a_message_whose_bytes_do_not_match_its_digest(
    tmp_path: pathlib.Path, nats_server: NatsServer
) -> None:
    """A shipped payload altered on the way is quarantined by ``pull``, never appended."""
    a, team = str(tmp_path / "a"), str(tmp_path / "team")
    fill(a, "alice", 5)
    ship(a, nats_server.url, "--create-stream")
    good = stream_messages(nats_server.url, STREAM)[0]
    body = good[2].replace(b"echo 0", b"echo X")
    headers = dict(good[1], **{"Nats-Msg-Id": "tampered"})

    from .conftest import _with_js, run

    async def publish(js: object) -> None:
        await js.publish(good[0], body, headers=headers)  # type: ignore[attr-defined]

    run(_with_js(nats_server.url, publish))
    assert (
        json.loads(journal(team, "pull", "--from", nats_server.url, "--json").stdout)["pulled"] == 5
    )
    stats = json.loads(journal(team, "stats", "--json").stdout)
    assert (stats["head_seq"], stats["quarantined"]) == (5, 1)


def test_follow_ships_records_as_they_land_until_sigterm(
    tmp_path: pathlib.Path, nats_server: NatsServer
) -> None:
    """``ship --follow`` ships what lands after it started; SIGTERM ends it cleanly."""
    home = str(tmp_path / "a")
    fill(home, "alice", 10)
    proc = subprocess.Popen(
        [
            *[JOURNAL_BIN, "--home", home, "ship", "--to", nats_server.url, "--follow"],
            "--json",
            "--create-stream",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=journal_env(),
    )

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(Exception):
                if stream_count(nats_server.url, STREAM) >= count:
                    return
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            assert time.monotonic() < deadline
            time.sleep(0.05)

    wait_for(10)
    fill(home, "alice", 5, start=10)
    journal(home, "append", "--source", "codex", data=b'{"hook_event_name":"Stop"}')
    wait_for(16)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert json.loads(out) == {"shipped": 16, "checkpoint": 16}
    assert_exactly_once(nats_server.url, [home])


@pytest.mark.parametrize("command", ["ship --to", "pull --from"])
def test_without_the_ship_extra_the_command_says_what_to_install(
    tmp_path: pathlib.Path, command: str
) -> None:
    """Without nats-py, ship and pull exit 1 naming the extra, with no traceback."""
    shadow = tmp_path / "shadow" / "nats"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('no nats here')\n")
    env = journal_env() | {"PYTHONPATH": str(shadow.parent)}
    done = subprocess.run(
        [JOURNAL_BIN, "--home", str(tmp_path / "a"), *command.split(), "nats://127.0.0.1:9"],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    assert b"pip install 'agent-journal[ship]'" in done.stderr
    assert b"Traceback" not in done.stderr


def test_team_costs_group_by_origin(tmp_path: pathlib.Path, nats_server: NatsServer) -> None:
    """``costs --by origin`` of the team journal: one row per machine, each equal to that
    machine's own totals, and the rows add up to the team's."""
    a, b, team = (str(tmp_path / n) for n in ("a", "b", "team"))
    for home, tag, out in ((a, "alice", 100), (b, "bob", 250)):
        lines = claude_response(f"{tag}-s", f"msg_{tag}", claude_usage(10, out, read=5))
        body = "".join(json.dumps(line) + "\n" for line in lines)
        journal(home, "append", "--batch", "--source", "claude-code", "--kind", "transcript",
                data=body.encode())  # fmt: skip
    ship(a, nats_server.url, "--create-stream")
    ship(b, nats_server.url)
    journal(team, "pull", "--from", nats_server.url)

    def costs(home: str, by: str) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(journal(home, "costs", "--by", by, "--json").stdout)
        return out

    rows = {row["key"]: row for row in costs(team, "origin")["rows"]}
    assert set(rows) == {origin_of(a), origin_of(b)}
    for home, out in ((a, 100), (b, 250)):
        mine = costs(home, "origin")
        assert [row["key"] for row in mine["rows"]] == [origin_of(home)]
        assert rows[origin_of(home)]["output_tokens"] == out
        assert rows[origin_of(home)]["cost_usd"] == mine["totals"]["cost_usd"]
    assert costs(team, "origin")["totals"] == costs(team, "day")["totals"]


def test_a_forgotten_run_ships_without_its_payloads_and_is_not_pulled(
    tmp_path: pathlib.Path, nats_server: NatsServer
) -> None:
    """Records whose payloads ``journal forget`` erased ship as erased (``null``): the
    team journal pulls the rest and neither keeps nor quarantines them."""
    a, team = str(tmp_path / "a"), str(tmp_path / "team")
    fill(a, "alice", 10)
    runs_a = json.loads(journal(a, "runs", "--json").stdout)
    gone = runs_a[0]
    journal(a, "forget", gone["run_id"], "--yes")
    shipped = ship(a, nats_server.url, "--create-stream")
    with LmdbJournal(a, readonly=True) as j:
        records = list(j.read())
    assert shipped["shipped"] == len(records)
    erased = [r for r in records if r.erased]
    assert erased
    journal(team, "pull", "--from", nats_server.url)
    with LmdbJournal(team, readonly=True) as j:
        pulled = list(j.read())
        assert j.stats().quarantined == 0
    assert {r.digest for r in pulled} == {r.digest for r in records if not r.erased}
    team_runs = {r["run_id"] for r in json.loads(journal(team, "runs", "--json").stdout)}
    assert gone["run_id"] not in team_runs
