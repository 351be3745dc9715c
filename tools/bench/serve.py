"""Benchmark ``journal serve`` on a large journal: the runs page's first screen, the
API behind it, and how soon a new hook event shows on an open page.

DESIGN §6: the first page of a 1M-record journal in ≤ 1 s (views current); a new
hook event visible on an open page within 2 s. Measured here:

- **first screen**: headless Chromium (Debian's ``/usr/bin/chromium``, driven by
  Playwright) opens ``/`` in a new page and waits until the first run row is drawn;
  wall time from ``goto`` on, p50/p99 of ``--reps`` (the first load after start
  reported apart), as users get it (the server keeps the pages' answers while the
  head stays, :mod:`journal.cli.web.cache`) and, interleaved, with that cache
  skipped (``Cache-Control: no-cache``: the answer computed from the views);
- **API**: ``GET /api/page/runs`` (the first page the screen draws: 100 sessions with
  costs) computed and from the cache, and ``GET /api/runs`` (every run, =
  ``journal runs --json``), p50/p99;
- **live**: with the runs page open, a ``journal hook claude-code`` process delivers a
  prompt of a new session; time from starting the hook to its row on the page, and
  the hook process alone, p50 of ``--live`` events;
- ``python -c pass`` on the same interpreter as the machine's yardstick.

The journal is the one ``tools/bench/views.py`` builds (``--records``, default
1,000,000 records, ``--home`` keeps and reuses it); the views are caught up before
anything is timed.

    .venv/bin/python tools/bench/serve.py [--records N] [--reps N] [--live N] [--home DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from typing import Any

from journal.store import LmdbJournal
from tools.bench.append import machine
from tools.bench.views import JOURNAL_BIN, build

CHROMIUM = "/usr/bin/chromium"


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _ms(values: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(values) * 1e3, "p99": _p(values, 0.99) * 1e3}


def _catch_up(home: str) -> float:
    """Bring every view current (the pages read runs, steps and costs)."""
    from projections.engine import Views

    start = time.perf_counter()
    with LmdbJournal(home, readonly=True) as journal, Views(journal) as views:
        views.catch_up()
    return time.perf_counter() - start


def _serve(home: str) -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(
        [JOURNAL_BIN, "--home", home, "serve", "--port", "0"], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    first = process.stdout.readline().decode()
    if not first.startswith("serving "):
        process.kill()
        raise SystemExit(f"journal serve did not start: {first!r}")
    return process, first.split()[1]


def _get(url: str, *, fresh: bool = False) -> tuple[float, int]:
    request = urllib.request.Request(url, headers={"Cache-Control": "no-cache"} if fresh else {})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        size = len(response.read())
    return time.perf_counter() - start, size


def bench_api(url: str, reps: int) -> dict[str, Any]:
    """Wall time of the first page's API call (computed, and from the page cache) and
    of the whole runs list."""
    out: dict[str, Any] = {}
    cases = (
        ("page_runs", "api/page/runs", True),
        ("page_runs_kept", "api/page/runs", False),
        ("runs", "api/runs", True),
    )
    for name, path, fresh in cases:
        _get(url + path)  # warm: the server's first answer
        times, size = [], 0
        for _ in range(reps):
            took, size = _get(url + path, fresh=fresh)
            times.append(took)
        out[name] = {**_ms(times), "bytes": size}
    return out


def _python_pass(reps: int) -> dict[str, float]:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - start)
    return _ms(times)


def _prompt(session: str) -> bytes:
    event = {
        "session_id": session,
        "transcript_path": f"/tmp/bench/{session}.jsonl",
        "cwd": "/home/dev/src/project-live",
        "hook_event_name": "UserPromptSubmit",
        "prompt": "a prompt the bench sends",
        "prompt_id": str(uuid.uuid4()),
    }
    return json.dumps(event).encode()


def bench_browser(home: str, url: str, reps: int, live: int) -> dict[str, Any]:
    """First screen of the runs page in Chromium, and the live latency of a hook event."""
    from playwright.sync_api import sync_playwright

    env = dict(os.environ, AGENT_JOURNAL_HOME=home)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        screens: list[float] = []
        computed: list[float] = []
        sessions = 0
        for i in range(2 * reps + 1):
            fresh = i % 2 == 0 and i > 0  # every other load skips the server's page cache
            context = browser.new_context(
                viewport={"width": 1360, "height": 900},
                extra_http_headers={"Cache-Control": "no-cache"} if fresh else {},
            )
            page = context.new_page()
            start = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("tr.run", timeout=60_000)
            (computed if fresh else screens).append(time.perf_counter() - start)
            sessions = int(page.inner_text("#count").split(" of ")[1].split()[0].replace(",", ""))
            context.close()
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.goto(url)
        page.wait_for_selector("#live.on", timeout=60_000)
        seen, hooks = [], []
        for _ in range(live):
            session = str(uuid.uuid4())
            start = time.perf_counter()
            subprocess.run(
                [JOURNAL_BIN, "hook", "claude-code"], input=_prompt(session), env=env, check=True
            )
            hooks.append(time.perf_counter() - start)
            page.wait_for_selector(f'tr[data-run-id="claude-code/{session}"]', timeout=60_000)
            seen.append(time.perf_counter() - start)
        browser.close()
    return {
        "first_screen_cold_ms": screens[0] * 1e3,
        "first_screen_ms": _ms(screens[1:]),
        "first_screen_computed_ms": _ms(computed),
        "sessions": sessions,
        "live_visible_ms": _ms(seen),
        "live_hook_process_ms": _ms(hooks),
    }


def render(report: dict[str, Any]) -> str:
    """The human-readable table."""
    m, b, a = report["machine"], report["browser"], report["api"]
    rows = [
        f"machine: {m['nproc']} cpus, Python {m['python']}, {m['platform']}, "
        f"revision {m['revision']}, load average {m['loadavg_1m_at_start']:.2f} at start",
        f"journal: {report['records']:,} records ({report['built']}), "
        f"{b['sessions']:,} sessions; views caught up in {report['catch_up_s']:.1f} s",
        "",
        f"{'(ms)':<52}{'p50':>8}{'p99':>9}",
        f"{'runs page, first screen in Chromium (warm)':<52}"
        f"{b['first_screen_ms']['p50']:>8.0f}{b['first_screen_ms']['p99']:>9.0f}",
        f"{'runs page, first screen, first load after start':<52}{b['first_screen_cold_ms']:>8.0f}",
        f"{'runs page, first screen, page cache skipped':<52}"
        f"{b['first_screen_computed_ms']['p50']:>8.0f}"
        f"{b['first_screen_computed_ms']['p99']:>9.0f}",
        f"{'GET /api/page/runs (100 sessions + costs), computed':<52}"
        f"{a['page_runs']['p50']:>8.0f}{a['page_runs']['p99']:>9.0f}",
        f"{'GET /api/page/runs, from the page cache':<52}"
        f"{a['page_runs_kept']['p50']:>8.0f}{a['page_runs_kept']['p99']:>9.0f}",
        f"{'GET /api/runs (every run, = runs --json)':<52}"
        f"{a['runs']['p50']:>8.0f}{a['runs']['p99']:>9.0f}",
        f"{'hook event → row on the open page':<52}"
        f"{b['live_visible_ms']['p50']:>8.0f}{b['live_visible_ms']['p99']:>9.0f}",
        f"{'  of which the journal hook process':<52}"
        f"{b['live_hook_process_ms']['p50']:>8.0f}{b['live_hook_process_ms']['p99']:>9.0f}",
        f"{'python -c pass':<52}"
        f"{report['python_pass']['p50']:>8.0f}{report['python_pass']['p99']:>9.0f}",
        "",
        f"first screen / 1 s target: {b['first_screen_ms']['p50'] / 1000:.2f} "
        f"(page cache skipped: {b['first_screen_computed_ms']['p50'] / 1000:.2f}); "
        f"live / 2 s target: {b['live_visible_ms']['p50'] / 2000:.2f}",
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) the journal, serve it, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=1_000_000, help="journal size (1000000)")
    parser.add_argument("--reps", type=int, default=10, help="page loads and API calls (10)")
    parser.add_argument("--live", type=int, default=5, help="live hook events timed (5)")
    parser.add_argument("--home", default=None, help="build the journal here, or reuse it")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    info = machine()
    with tempfile.TemporaryDirectory(prefix="journal-serve-bench-") as tmp:
        home = args.home or os.path.join(tmp, "home")
        if os.path.isdir(os.path.join(home, "log")):
            built = "reused"
        else:
            built = f"built in {build(home, args.records):.0f} s"
        catch_up = _catch_up(home)
        with LmdbJournal(home, readonly=True) as journal:
            records = journal.head()
        process, url = _serve(home)
        try:
            api = bench_api(url, args.reps)
            browser = bench_browser(home, url, args.reps, args.live)
        finally:
            process.send_signal(2)
            process.wait(timeout=30)
        report = {
            "machine": info,
            "records": records,
            "built": built,
            "catch_up_s": catch_up,
            "api": api,
            "browser": browser,
            "python_pass": _python_pass(args.reps),
        }
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
