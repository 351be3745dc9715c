"""The click-free ``journal costs`` (:mod:`journal.cli.costfast`) prints what click does.

Each case runs the real program twice: ``journal`` (whose entry point tries the warm
read first) and the click command group itself (``journal.cli.main``), on the same
home, and compares stdout, stderr and the exit code byte for byte. Other tests check
that the warm read really answered (in this process), that whatever it cannot answer
goes on to click with the same messages, and that it loads neither click nor msgspec.
"""

from __future__ import annotations

import ast
import json
import math
import os
import pathlib
import subprocess
import sys
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from journal.cli import costfast
from journal.store import LmdbJournal
from tests.conftest import JOURNAL_BIN
from tests.projections.costlines import (
    claude_response,
    claude_usage,
    codex_rollout_response,
    codex_usage,
    opencode_message,
)

_CLICK = "import sys; from journal.cli.main import main; sys.argv[0] = 'journal'; sys.exit(main())"
_T0 = 1_780_000_000 * 10**9


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A journal with usage of every agent over two UTC days, its costs view current."""
    path = str(tmp_path_factory.mktemp("fast") / "home")
    with LmdbJournal(path) as journal:
        seq = 0

        def add(source: str, payload: dict[str, Any], kind: str | None = None) -> None:
            nonlocal seq
            seq += 1
            data = msgspec.json.encode(payload)
            journal.append(data, source=source, kind=kind, received_at=_T0 + seq)

        stamps = ["2025-11-01T10:00:00Z", "2025-11-01T23:59:59Z", "2025-11-02T00:00:01Z"]
        for i, at in enumerate(stamps):
            usage = claude_usage(10 + i, 475, 388, 388 * i, 36181)
            model = ["claude-sonnet-4-5-20250929", "claude-opus-4-5-20251101"][i % 2]
            for line in claude_response("s1", f"m{i}", usage, model=model, at=at, partials=2):
                add("claude-code", line, "transcript")
        sub = claude_response("s1", "ms", claude_usage(3, 9), agent="ag1", tools=("t1",))
        for line in sub:
            add("claude-code", line, "transcript")
        for line in claude_response("s2", "mx", claude_usage(7, 3), model="claude-mystery-9"):
            add("claude-code", line, "transcript")
        add("codex", {"type": "session_meta", "payload": {"id": "t-1"}}, "transcript")
        add("codex", codex_rollout_response("t-1", "r1", codex_usage(100, 20, 10, 2)), "transcript")
        tokens = {"input": 1, "output": 2, "reasoning": 0, "cache": {"read": 0, "write": 0}}
        add("opencode", opencode_message("ses_1", "msg_1", tokens=tokens, cost=0.5))
        add("cursor", {"conversation_id": "c1", "hook_event_name": "stop", "model": "gpt-5"})
    _run(JOURNAL_BIN, path, "costs", "--by", "run")  # folds the log in (the click path)
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AGENT_JOURNAL_LOCK_TIMEOUT"}
    return {**env, "AGENT_JOURNAL_PRICES": os.devnull, **extra}


def _run(
    program: str, home: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    argv = [sys.executable, "-c", _CLICK] if program == "click" else [program]
    return subprocess.run(
        [*argv, "--home", home, *args], capture_output=True, timeout=120, env=env or _env()
    )


def _same(home: str, *args: str, env: dict[str, str] | None = None) -> bytes:
    fast, slow = _run(JOURNAL_BIN, home, *args, env=env), _run("click", home, *args, env=env)
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        slow.returncode,
        slow.stdout,
        slow.stderr,
    ), args
    return fast.stdout


ANSWERED = [
    ("--json",),
    ("--by", "day", "--json"),
    ("--by=model", "--json"),
    ("--json", "--breakdown"),
    ("--by", "model", "--breakdown", "--json", "--tz", "Europe/Paris"),
    ("--since", "2025-11-02", "--json"),
    ("--until=20251101", "--source", "claude-code", "--json"),
    ("--source", "opencode", "--json"),
    ("--source", "gemini", "--json"),
    ("--by", "run", "--by", "day", "--json"),
    (),
    ("--breakdown",),
    ("--by", "model"),
    ("--source", "cursor"),
]


@pytest.mark.parametrize("args", ANSWERED, ids=" ".join)
def test_the_warm_read_prints_what_click_prints(home: str, args: tuple[str, ...]) -> None:
    """Answered without click, the output is the click command's, byte for byte."""
    out = _same(home, "costs", *args)
    if "--json" in args:
        assert json.loads(out)["rows"] is not None
    else:
        assert out.decode().splitlines()[0].split()[-1] == "COST"


@pytest.mark.parametrize("args", ANSWERED, ids=" ".join)
def test_the_warm_read_answers_in_process(
    home: str, args: tuple[str, ...], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """Those invocations really are answered by the warm read (no click behind it)."""
    os.environ["AGENT_JOURNAL_PRICES"] = os.devnull
    try:
        assert costfast.main(["--home", home, "costs", *args]) is True
    finally:
        del os.environ["AGENT_JOURNAL_PRICES"]
    assert capsysbinary.readouterr().out == _run("click", home, "costs", *args).stdout


FULL_PATH = [
    ("--by", "run", "--json"),
    ("--by", "step"),
    ("--by", "session", "--json"),
    ("--by", "project", "--breakdown"),
    ("--tz", "Asia/Kolkata", "--json"),
    ("--source", "claude-code/s1", "--json"),
]


@pytest.mark.parametrize("args", FULL_PATH, ids=" ".join)
def test_what_the_day_sums_cannot_answer_goes_through_the_engine_without_click(
    home: str, args: tuple[str, ...], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """Other groupings, another time zone's days or a run as ``--source``: answered
    through the views engine, still without click, with click's bytes."""
    from projections.costfast import warm_report

    options: dict[str, Any] = {args[0][2:]: args[1]}
    assert warm_report(home, **options) is None
    os.environ["AGENT_JOURNAL_PRICES"] = os.devnull
    try:
        assert costfast.main(["--home", home, "costs", *args]) is True
    finally:
        del os.environ["AGENT_JOURNAL_PRICES"]
    assert capsysbinary.readouterr().out == _same(home, "costs", *args)


DECLINED = [
    ("--tz", "Nowhere/Atlantis"),
    ("--since", "yesterday"),
    ("--until", "2025-13-01", "--json"),
    ("--by", "week"),
    ("--by",),
    ("--json=yes",),
    ("--verbose",),
    ("--help",),
    ("-h",),
    ("extra",),
    ("--", "--json"),
    ("--source", "--json"),
]


@pytest.mark.parametrize("args", DECLINED, ids=" ".join)
def test_what_the_warm_read_declines_click_answers_the_same(
    home: str, args: tuple[str, ...], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """Bad values, help and unknown options go on to click: the same output, error
    message and exit code as the click command."""
    assert costfast.main(["--home", home, "costs", *args]) is False
    assert capsysbinary.readouterr() == (b"", b"")
    _same(home, "costs", *args)


def test_errors_from_the_environment_are_clicks(home: str, tmp_path: pathlib.Path) -> None:
    """A bad lock timeout, a bad price file, a home that is a file: click's errors."""
    _same(home, "costs", "--json", env=_env(AGENT_JOURNAL_LOCK_TIMEOUT="soon"))
    bad = tmp_path / "prices.toml"
    bad.write_text("[models.x]\ninput = 'free'\n")
    found = _same(home, "costs", "--json", env=_env(AGENT_JOURNAL_PRICES=str(bad)))
    assert found == b""
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert costfast.main(["--home", str(a_file), "costs", "--json"]) is False
    _same(str(a_file), "costs", "--json")


def test_a_price_file_is_applied_the_same(home: str, tmp_path: pathlib.Path) -> None:
    """A price file naming the unknown model prices it on both paths."""
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."claude-mystery-9"]\ninput = 1\noutput = 2\n')
    out = _same(
        home, "costs", "--by", "model", "--json", env=_env(AGENT_JOURNAL_PRICES=str(prices))
    )
    rows = {row["key"]: row for row in json.loads(out)["rows"]}
    assert rows["claude-mystery-9"]["cost_source"] == "computed"


def test_a_lagging_view_is_caught_up_then_read_warm(tmp_path: pathlib.Path) -> None:
    """A new record: the warm read declines, the engine catches up (without click,
    as click would); then the warm read answers again, the same."""
    from projections.costfast import warm_report

    home = str(tmp_path / "home")
    with LmdbJournal(home) as journal:
        for line in claude_response("s9", "m9", claude_usage(1, 2)):
            journal.append(msgspec.json.encode(line), source="claude-code", kind="transcript")
    assert warm_report(home, price_file=os.devnull) is None
    first = _run(JOURNAL_BIN, home, "costs", "--json")
    assert first.returncode == 0
    assert json.loads(first.stdout)["totals"]["output_tokens"] == 2
    warm = warm_report(home, price_file=os.devnull)
    assert warm is not None
    assert costfast.encode_json(warm.to_dict()) + b"\n" == first.stdout


def test_the_warm_read_loads_neither_click_nor_msgspec_nor_prices(home: str) -> None:
    """A warm ``journal costs --json`` imports no click, msgspec, genai-prices or pydantic."""
    code = (
        "import sys; from journal.cli._entry import main; "
        f"sys.argv = ['journal', '--home', {home!r}, 'costs', '--json']; main(); "
        "sys.stderr.write(repr(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, env=_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = set(ast.literal_eval(done.stderr.decode()))
    assert json.loads(done.stdout)["by"] == "day"
    assert not loaded & {"click", "msgspec", "genai_prices", "pydantic", "typing"}


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_JSON)
def test_encode_json_is_msgspecs_encoding(value: Any) -> None:
    """The warm read's JSON encoder writes msgspec's bytes for every JSON value."""
    assert costfast.encode_json(value) == msgspec.json.encode(value)


@given(st.integers(0, 10**18), st.sampled_from([1, 10**3, 10**6, 10**9, 10**12, 10**15]))
def test_encode_json_writes_every_cost_as_msgspec(pico: int, scale: int) -> None:
    """Dollars as the reports hold them (picodollars over a power of ten)."""
    value = pico / scale
    assert costfast.encode_json(value) == msgspec.json.encode(value)
    assert math.isfinite(value)


_MODULES_AFTER_CLICK = (
    "import sys; from journal.cli.main import main; sys.argv[0] = 'journal'\n"
    "try:\n    main()\nfinally:\n"
    "    sys.stderr.write(repr(sorted({m.split('.')[0] for m in sys.modules})))"
)


def _modules_of_a_catch_up(home: str) -> set[str]:
    argv = [sys.executable, "-c", _MODULES_AFTER_CLICK, "--home", home, "costs", "--json"]
    done = subprocess.run(argv, capture_output=True, env=_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    return set(ast.literal_eval(done.stderr.decode()))


def test_a_catch_up_of_known_models_and_days_needs_no_price_data(tmp_path: pathlib.Path) -> None:
    """Once a model's prices for a day are in the view, folding more of its responses
    that day imports no genai-prices; a new day of it does (and then remembers it)."""
    home = str(tmp_path / "home")

    def respond(message: str, at: str) -> None:
        with LmdbJournal(home) as journal:
            for line in claude_response("s1", message, claude_usage(3, 40), at=at):
                journal.append(msgspec.json.encode(line), source="claude-code", kind="transcript")

    respond("m1", "2025-11-01T10:00:00Z")
    assert "genai_prices" in _modules_of_a_catch_up(home)
    respond("m2", "2025-11-01T18:00:00Z")
    assert "genai_prices" not in _modules_of_a_catch_up(home)
    respond("m3", "2025-11-02T09:00:00Z")
    assert "genai_prices" in _modules_of_a_catch_up(home)
    found = json.loads(_run(JOURNAL_BIN, home, "costs", "--json").stdout)
    assert [row["responses"] for row in found["rows"]] == [2, 1]
    assert {row["cost_source"] for row in found["rows"]} == {"computed"}
