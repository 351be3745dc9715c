"""The views commands through the real ``journal`` program (DESIGN §5).

The journal is built from the real Claude Code payloads in ``shared/fixtures`` (one
record each, a second apart, through the library), then every command runs as a
subprocess: the JSON field names DESIGN §5 fixes, the golden facts of those payloads
(the Bash pre/post pair is one succeeded step, SubagentStart/SubagentStop make a child
run, a session without SessionEnd is interrupted and says how to resume it), tables
for people, and errors as one line on stderr with exit 1 (2 for usage errors).
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import time
from typing import Any

import pytest

from journal.store import LmdbJournal
from projections import queries
from tests.conftest import FIXTURES, JOURNAL_BIN

# The fixture events in the order a session would fire them (several sessions).
ORDER = [
    "SessionStart_startup",
    "UserPromptSubmit",
    "PreToolUse_Bash",
    "PostToolUse_Bash",
    "PostToolUse_Edit_structuredPatch",
    "PostToolUse_Write_create",
    "SubagentStart",
    "SubagentStop",
    "Notification_idle_prompt",
    "PreCompact_auto",
    "Stop",
    "SessionEnd_prompt_input_exit",
]
RUN_FIELDS = {
    "run_id",
    "session_id",
    "source",
    "status",
    "parent_run_id",
    "first_seq",
    "last_seq",
    "steps",
}
STEP_FIELDS = {
    "step_id",
    "run_id",
    "tool_name",
    "tool_use_id",
    "status",
    "start_seq",
    "end_seq",
    "duration_ms",
}
INTERRUPTED_FIELDS = {"run_id", "session_id", "source", "last_seq", "resume"}
STATUS_FIELDS = {"name", "version", "checkpoint", "head", "lag"}
# A minute ago: the CLI measures quiet against the wall clock.
T0 = time.time_ns() - 60 * 10**9


def fixture(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((FIXTURES / f"claude-code__acf__{name}.json").read_text())
    event.pop("logged_at", None)
    return event


def compact(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def build(home: str) -> dict[str, int]:
    """Append the fixtures a second apart; return each fixture's seq."""
    seqs = {}
    with LmdbJournal(home) as journal:
        for i, name in enumerate(ORDER):
            done = journal.append(
                compact(fixture(name)), source="claude-code", received_at=T0 + i * 10**9
            )
            seqs[name] = done.seq
    return seqs


def run(home: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [JOURNAL_BIN, "--home", home, *args], capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    return done


def ok(home: str, *args: str) -> str:
    done = run(home, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def as_json(home: str, *args: str) -> Any:
    """The command's stdout must be exactly one JSON document."""
    return json.loads(ok(home, *args, "--json"))


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.fixture
def built(home: str) -> tuple[str, dict[str, int]]:
    """A home holding the fixture session events."""
    return home, build(home)


def session(name: str) -> str:
    return str(fixture(name)["session_id"])


def test_runs_json_lists_one_run_per_session_with_the_design_fields(
    built: tuple[str, dict[str, int]],
) -> None:
    """runs --json: the DESIGN §5 fields, one run per session id, subagent as a child."""
    home, _ = built
    found = as_json(home, "runs")
    assert all(set(item) >= RUN_FIELDS for item in found)
    sessions = {session(name) for name in ORDER}
    tops = {item["run_id"] for item in found if item["parent_run_id"] is None}
    assert tops == {f"claude-code/{sid}" for sid in sessions}
    parent = f"claude-code/{session('SubagentStart')}"
    agent = fixture("SubagentStart")["agent_id"]
    (child,) = [item for item in found if item["parent_run_id"] is not None]
    assert child["run_id"] == f"{parent}/{agent}"
    assert child["parent_run_id"] == parent


def test_the_bash_pre_post_pair_is_one_succeeded_step(built: tuple[str, dict[str, int]]) -> None:
    """steps --json of the Bash session: one succeeded Bash step spanning pre and post."""
    home, seqs = built
    pre = fixture("PreToolUse_Bash")
    found = as_json(home, "steps", pre["session_id"])
    assert all(set(item) >= STEP_FIELDS for item in found)
    bash = [item for item in found if item["tool_use_id"] == pre["tool_use_id"]]
    assert len(bash) == 1
    (step,) = bash
    assert step["status"] == "succeeded"
    assert step["tool_name"] == "Bash"
    assert (step["start_seq"], step["end_seq"]) == (
        seqs["PreToolUse_Bash"],
        seqs["PostToolUse_Bash"],
    )
    assert step["duration_ms"] == pytest.approx(1000.0)  # the two records are 1 s apart
    assert step["run_id"] == f"claude-code/{pre['session_id']}"


def test_run_json_has_the_run_fields_its_steps_and_child_runs(
    built: tuple[str, dict[str, int]],
) -> None:
    """run --json: the run's fields at top level, its steps, and its subagent child run."""
    home, seqs = built
    sid = session("SubagentStart")
    detail = as_json(home, "run", sid[:8])
    assert set(detail) >= RUN_FIELDS
    assert detail["run_id"] == f"claude-code/{sid}"
    assert detail["session_id"] == sid
    (child,) = detail["children"]
    assert child["agent_id"] == fixture("SubagentStart")["agent_id"]
    assert (child["first_seq"], child["last_seq"]) == (seqs["SubagentStart"], seqs["SubagentStop"])
    assert child["status"] == "ended"
    bash_sid = session("PreToolUse_Bash")
    bash_run = as_json(home, "run", f"claude-code/{bash_sid}")
    assert bash_run["steps"] == len(bash_run["step_list"]) >= 1
    assert all(set(step) >= STEP_FIELDS for step in bash_run["step_list"])


def test_a_session_without_session_end_is_interrupted_with_its_resume_command(
    built: tuple[str, dict[str, int]],
) -> None:
    """interrupted --idle 0 lists a quiet session that never ended, with claude --resume."""
    home, seqs = built
    found = as_json(home, "interrupted", "--idle", "0")
    assert all(set(item) >= INTERRUPTED_FIELDS for item in found)
    by_session = {item["session_id"]: item for item in found}
    bash_sid = session("PreToolUse_Bash")
    assert by_session[bash_sid]["resume"] == f"claude --resume {bash_sid}"
    assert by_session[bash_sid]["last_seq"] == seqs["PostToolUse_Write_create"]
    assert session("SessionEnd_prompt_input_exit") not in by_session  # it ended
    assert as_json(home, "interrupted") == []  # quiet for a minute, not 30 minutes
    statuses = {item["session_id"]: item["status"] for item in as_json(home, "runs")}
    assert statuses[bash_sid] == "active"
    assert statuses[session("SessionEnd_prompt_input_exit")] == "ended"


def test_runs_filters_by_status_and_source(built: tuple[str, dict[str, int]]) -> None:
    """--status and --source keep only matching runs; an unknown status exits 2."""
    home, _ = built
    with LmdbJournal(home) as journal:
        journal.append(b'{"session_id":"cx-1","type":"agent-turn-complete"}', source="codex")
    codex = as_json(home, "runs", "--source", "codex")
    assert [item["run_id"] for item in codex] == ["codex/cx-1"]
    ended = as_json(home, "runs", "--status", "ended")
    assert ended
    assert all(item["status"] == "ended" for item in ended)
    interrupted = as_json(home, "runs", "--status", "interrupted", "--idle", "0")
    assert {item["run_id"] for item in interrupted} == {
        item["run_id"] for item in as_json(home, "interrupted", "--idle", "0")
    }
    bad = run(home, "runs", "--status", "sleeping")
    assert bad.returncode == 2
    assert "unknown status 'sleeping'" in bad.stderr


def test_every_query_catches_up_with_new_records(built: tuple[str, dict[str, int]]) -> None:
    """A record appended after a query shows in the next one; projections shows no lag."""
    home, _ = built
    before = {item["run_id"]: item for item in as_json(home, "runs")}
    sid = session("PreToolUse_Bash")
    prompt = fixture("UserPromptSubmit")
    with LmdbJournal(home) as journal:
        new = journal.append(compact(prompt), source="claude-code").seq
    after = {item["run_id"]: item for item in as_json(home, "runs")}
    assert after[f"claude-code/{sid}"]["last_seq"] == new
    assert before[f"claude-code/{sid}"]["last_seq"] < new
    status = as_json(home, "projections")
    assert all(set(item) >= STATUS_FIELDS for item in status)
    runs_status = next(item for item in status if item["name"] == "runs")
    assert (runs_status["checkpoint"], runs_status["head"], runs_status["lag"]) == (new, new, 0)


def test_projections_shows_lag_before_any_query(built: tuple[str, dict[str, int]]) -> None:
    """Before a query the views are behind by the whole log; projections does not catch up."""
    home, seqs = built
    head = max(seqs.values())
    status = as_json(home, "projections")
    assert {item["name"] for item in status} >= {"runs", "steps"}
    for item in status:
        assert (item["checkpoint"], item["head"], item["lag"]) == (0, head, head)
    table = ok(home, "projections")
    assert table.splitlines()[0].split() == ["VIEW", "VERSION", "CHECKPOINT", "HEAD", "LAG"]


def test_rebuild_named_view_shows_progress_and_status(built: tuple[str, dict[str, int]]) -> None:
    """rebuild runs refolds it (progress on stderr), leaves it current, and prints status."""
    home, seqs = built
    head = max(seqs.values())
    done = run(home, "rebuild", "runs")
    assert done.returncode == 0, done.stderr
    assert "rebuilding runs" in done.stderr
    assert done.stdout.startswith(f"rebuilt runs: {head} records")
    status = {item["name"]: item for item in as_json(home, "projections")}
    assert status["runs"]["lag"] == 0
    assert status["steps"]["checkpoint"] == 0  # not named, not touched


def test_rebuild_of_an_unknown_view_is_a_usage_error(built: tuple[str, dict[str, int]]) -> None:
    """rebuild nope exits 2 naming the view and the known views."""
    home, _ = built
    done = run(home, "rebuild", "runs", "nope")
    assert done.returncode == 2
    assert "Error: unknown view 'nope' (views: runs, steps" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "no-such-run"), "Error: no run matches 'no-such-run'"),
        (("steps", "no-such-run"), "Error: no run matches 'no-such-run'"),
        (("log", "--run", "no-such-run"), "Error: no run matches 'no-such-run'"),
        (("run", "claude-code/"), "Error: 'claude-code/' matches "),
    ],
    ids=["run-unknown", "steps-unknown", "log-run-unknown", "run-ambiguous"],
)
def test_unknown_or_ambiguous_run_is_one_line_exit_1(
    built: tuple[str, dict[str, int]], args: tuple[str, ...], message: str
) -> None:
    """An id that matches no run, or several, exits 1 with one line on stderr."""
    home, _ = built
    done = run(home, *args)
    assert done.returncode == 1
    assert one_line_error(done).startswith(message)


def test_log_run_prints_the_records_of_that_session_only(
    built: tuple[str, dict[str, int]],
) -> None:
    """log --run SESSION --json prints exactly that session's records, in seq order."""
    home, seqs = built
    sid = session("PreToolUse_Bash")
    lines = ok(home, "log", "--run", sid[:8], "--json").splitlines()
    got = [json.loads(line)["seq"] for line in lines]
    expected = [seqs[name] for name in ORDER if session(name) == sid]
    assert got == expected
    limited = ok(home, "log", "--run", sid, "--json", "--limit", "2", "--kind", "PostToolUse")
    assert [json.loads(line)["kind"] for line in limited.splitlines()] == ["PostToolUse"] * 2


def test_tables_for_people(built: tuple[str, dict[str, int]]) -> None:
    """Without --json the commands print aligned tables naming runs by short id."""
    home, _ = built
    table = ok(home, "runs").splitlines()
    assert table[0].split()[:3] == ["RUN", "STATUS", "STARTED"]
    for name in ORDER:
        assert any(f"claude-code/{session(name)[:8]}" in line for line in table)
    sid = session("PreToolUse_Bash")
    steps = ok(home, "steps", sid).splitlines()
    assert steps[0].split()[:3] == ["#", "TOOL", "STATUS"]
    assert any("Bash" in line and "succeeded" in line for line in steps[1:])
    detail = ok(home, "run", sid)
    assert f"run_id:        claude-code/{sid}" in detail
    interrupted = ok(home, "interrupted", "--idle", "0")
    assert f"claude --resume {sid}" in interrupted


def test_views_live_beside_the_log_and_can_be_deleted(built: tuple[str, dict[str, int]]) -> None:
    """Queries create <home>/views; deleting it changes no answer."""
    home, _ = built
    first = as_json(home, "runs")
    views = pathlib.Path(home, "views")
    assert (views / "data.mdb").is_file()
    for path in views.iterdir():
        path.unlink()
    views.rmdir()
    assert as_json(home, "runs") == first


def test_demo_shows_runs_and_steps(tmp_path: pathlib.Path) -> None:
    """journal demo prints the runs and steps views of the bundled session."""
    done = subprocess.run(
        [JOURNAL_BIN, "--home", str(tmp_path / "demo"), "demo"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "$ journal runs" in out
    assert "$ journal steps claude-code/" in out
    after_steps = out.split("$ journal steps", 1)[1]
    assert any("Bash" in line and "succeeded" in line for line in after_steps.splitlines())
    assert "no interrupted runs" in out


def test_demo_runs_last_as_long_as_their_session(tmp_path: pathlib.Path) -> None:
    """The demo's hook events are received within their session's own time, so its runs
    last minutes on the session's day, not from the transcript's year to now."""
    home = str(tmp_path / "demo")
    done = subprocess.run([JOURNAL_BIN, "--home", home, "demo"], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    runs = json.loads(
        subprocess.run(
            [JOURNAL_BIN, "--home", home, "runs", "--json"], capture_output=True, check=True
        ).stdout
    )
    (parent,) = [r for r in runs if r["parent_run_id"] is None]
    lasted_s = (parent["last_time"] - parent["first_time"]) / 1e9
    assert 60 < lasted_s < 3600, lasted_s
    steps = json.loads(
        subprocess.run(
            [JOURNAL_BIN, "--home", home, "steps", parent["run_id"], "--json"],
            capture_output=True,
            check=True,
        ).stdout
    )
    assert all(0 <= s["duration_ms"] < 3_600_000 for s in steps if s["duration_ms"] is not None)


def test_log_run_follow_prints_new_records_of_that_run_only(
    built: tuple[str, dict[str, int]],
) -> None:
    """log --run --follow skips other sessions' new records and prints the run's next one."""
    home, seqs = built
    sid = session("PreToolUse_Bash")
    head = max(seqs.values())
    follow = ["--follow", "--json", "--after", str(head), "--limit", "1"]
    proc = subprocess.Popen(
        [JOURNAL_BIN, "--home", home, "log", "--run", sid, *follow],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with LmdbJournal(home) as journal:  # wait until it has resolved the run
            while next(s for s in queries.status(journal) if s.name == "runs").checkpoint < head:
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.05)
        other = fixture("Stop")  # another session's event
        mine = fixture("UserPromptSubmit")
        with LmdbJournal(home) as journal:
            journal.append(compact(other), source="claude-code")
            expected = journal.append(compact(mine), source="claude-code").seq
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    (line,) = out.splitlines()
    assert json.loads(line)["seq"] == expected


# -- the agent process: kill -9 ------------------------------------------------------

SESSIONS = pathlib.Path(__file__).resolve().parents[2] / "projections" / "sessions"


def test_a_killed_agent_is_interrupted_at_once_and_its_transcript_tail_captured(
    tmp_path: pathlib.Path,
) -> None:
    """A real process (``sleep``) stands for the agent of a recorded Claude Code session
    cut off mid-turn: while it lives the run is active; once it is killed -9,
    ``interrupted --json`` lists the run at once, with its resume command, and the
    transcript lines it left behind are journalled."""
    from journal.agents import process

    home = str(tmp_path / "home")
    transcript = tmp_path / "session.jsonl"
    transcript.write_text((SESSIONS / "claude-code__killed.transcript.jsonl").read_text())
    agent = subprocess.Popen(["sleep", "600"])
    try:
        found = process.stat(agent.pid)
        boot = process.boot_id()
        if found is None or boot is None:
            pytest.skip("no /proc: the agent process cannot be told")
        now = time.time_ns()
        with LmdbJournal(home) as journal:
            recorded = (SESSIONS / "claude-code__killed.jsonl").read_text().splitlines()
            for n, line in enumerate(recorded):
                event = json.loads(line)
                payload = event["payload"] | {"transcript_path": str(transcript)}
                journal.append(
                    compact(payload),
                    source="claude-code",
                    received_at=now - (len(recorded) - n) * 10**9,
                    agent=(agent.pid, found[3], boot),
                )
        sid = payload["session_id"]
        assert as_json(home, "interrupted") == []
        (live,) = as_json(home, "runs")
        assert (live["status"], live["agent_alive"], live["agent_pid"]) == (
            "active",
            True,
            agent.pid,
        )
    finally:
        agent.kill()
        agent.wait()
    (item,) = as_json(home, "interrupted")
    assert set(item) >= INTERRUPTED_FIELDS
    assert (item["session_id"], item["resume"]) == (sid, f"claude --resume {sid}")
    assert item["agent_alive"] is False
    kinds = [json.loads(line)["kind"] for line in ok(home, "log", "--json").splitlines()]
    assert kinds.count("transcript") == len(transcript.read_text().splitlines())
    detail = as_json(home, "run", sid)
    assert (detail["status"], detail["models"]) == ("interrupted", ["claude-opus-5-5"])
    assert as_json(home, "interrupted") == [item]  # captured once, not again
    assert kinds == [json.loads(line)["kind"] for line in ok(home, "log", "--json").splitlines()]
