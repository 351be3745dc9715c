"""Every page of ``journal serve`` in a real headless Chromium (Debian's, driven by
Playwright), against the real journal of ``conftest``: what a person sees, the live
update without a reload, and a screenshot of each page as a test artifact.

Set ``AGENT_JOURNAL_DOC_IMAGES=docs/images`` to also write the screenshots that
``docs/how-to/serve.md`` shows.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from journal.cli.web import data
from journal.store import LmdbJournal
from tests.serve.conftest import (
    FAILING_SESSION,
    UNPRICED_MODEL,
    Server,
    agent,
    artifacts,
    cli_json,
    real,
)

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
#: Generous: the target is 2 s (measured by tools/bench/serve.py), this only bounds a hang.
WAIT_MS = 15_000


def usd(value: float | None) -> str:
    """A dollar amount as the page (and ``journal costs``) writes it."""
    if value is None:
        return "unpriced"
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page that fails the test on any script error."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert not errors, errors


def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot as an artifact (and for the docs when asked)."""
    path = artifacts() / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    docs = os.environ.get("AGENT_JOURNAL_DOC_IMAGES")
    if docs:
        shutil.copy(path, os.path.join(docs, f"serve-{name}.png"))


def test_runs_page_lists_every_session(served: tuple[str, Server], page: Any) -> None:
    """The runs page shows each session with its status, interrupted ones marked with the
    command that resumes them, and filters narrow the list."""
    home, server = served
    runs = cli_json(home, "runs")
    page.goto(server.url)
    page.wait_for_selector("tr.run")
    shown = page.eval_on_selector_all("tr.run", "rows => rows.map(r => r.dataset.runId)")
    assert set(shown) == {one["run_id"] for one in runs}
    stopped = next(one for one in runs if one["status"] == "interrupted")
    row = page.locator(f'tr[data-run-id="{stopped["run_id"]}"]')
    assert "interrupted" in row.get_attribute("class")
    assert page.locator("tr.resume-row code").all_inner_texts() == [stopped["resume"]]
    shot(page, "runs")
    page.select_option("select[name=source]", "codex")
    page.wait_for_function("document.querySelectorAll('tr.run').length === 1")
    assert page.locator("tr.run").get_attribute("data-run-id").startswith("codex/")


def test_search_finds_prompts_and_tool_inputs(served: tuple[str, Server], page: Any) -> None:
    """The search box keeps the sessions whose prompts or tool inputs hold the words."""
    _, server = served
    page.goto(server.url + "?q=missing+directory")
    page.wait_for_selector("tr.run")
    found = page.eval_on_selector_all("tr.run:not(.sub)", "rows => rows.map(r => r.dataset.runId)")
    assert [run.split("/")[1][:12] for run in found] == [FAILING_SESSION]
    page.goto(server.url + "?q=ls+/missing")
    page.wait_for_selector("tr.run")
    assert page.locator("tr.run:not(.sub)").count() == 1
    page.goto(server.url + "?q=words+nobody+typed")
    page.wait_for_selector("#empty")


def test_run_page_marks_the_failed_step(served: tuple[str, Server], page: Any) -> None:
    """A run's page shows its id, a waterfall whose failed step is marked, its prompts."""
    home, server = served
    detail = cli_json(home, "run", FAILING_SESSION)
    page.goto(server.url + "runs/" + detail["run_id"])
    page.wait_for_selector("#timeline")
    assert page.inner_text("#run-id") == detail["run_id"]
    failed = page.locator('.step[data-status="failed"]')
    assert failed.count() == 1
    assert failed.locator(".wmark").inner_text() == "✗"
    assert "ls /missing" in failed.inner_text()
    assert "1 failed" in page.inner_text("#timeline h2")
    assert "list the missing directory" in page.inner_text("#prompts")
    assert page.locator("#changes").count() == 1


def test_run_page_nests_subagents_and_prices_the_run(served: tuple[str, Server], page: Any) -> None:
    """The demo session's page nests its subagent's steps under it and shows its cost."""
    home, server = served
    session = next(one for one in cli_json(home, "runs") if one["run_id"].count("/") == 1)
    costs = cli_json(home, "costs", "--by", "run")
    row = next(r for r in costs["rows"] if r["key"] == session["run_id"])
    page.goto(server.url + "runs/" + session["run_id"])
    page.wait_for_selector("#timeline")
    assert page.locator(".wgroup .subagent").count() == 1
    assert page.locator(".wgroup .step.nested").count() >= 1
    assert "subagent" in page.inner_text("#links")  # the conversation link to it
    assert page.inner_text("#run-cost") == usd(row["cost_usd"])
    changes = page.inner_text("#changes")
    with LmdbJournal(home, readonly=True) as journal:  # its files and a coloured diff
        found = data.run_changes(journal, session["run_id"])
    assert found["changes"]
    for change in found["changes"]:
        assert change["path"] in changes
    assert page.locator("#diff .d-add").count() >= 1
    shot(page, "run")


def test_costs_page_equals_journal_costs(served: tuple[str, Server], page: Any) -> None:
    """The costs page's totals and rows are what ``journal costs`` reports, unpriced
    tokens named and counted."""
    home, server = served
    by_day = cli_json(home, "costs", "--by", "day")
    by_model = cli_json(home, "costs", "--by", "model")
    page.goto(server.url + "costs")
    page.wait_for_selector("#costs-model")
    totals = by_day["totals"]
    assert page.inner_text("#total-cost") == usd(totals["cost_usd"]) + "*"  # mixed: unpriced
    tokens = sum(
        totals[f]
        for f in (
            "input_tokens",
            "output_tokens",
            "cache_write_5m_tokens",
            "cache_write_1h_tokens",
            "cache_read_tokens",
        )
    )
    assert page.inner_text("#total-tokens") == f"{tokens:,}"
    days = page.eval_on_selector_all(
        "#costs-day tr[data-key]", "rows => rows.map(r => r.dataset.key)"
    )
    assert days == [row["key"] for row in by_day["rows"]]
    unpriced = next(r for r in by_model["rows"] if r["key"] == UNPRICED_MODEL)
    assert UNPRICED_MODEL in page.inner_text("#unpriced")
    cells = page.locator(f'#costs-model tr[data-key="{UNPRICED_MODEL}"] td').all_inner_texts()
    assert cells[-1] == "unpriced"
    assert cells[5] == f"{unpriced['cache_read_tokens']:,}"
    assert page.locator("svg.chart").count() == 2
    shot(page, "costs")


def test_a_new_hook_event_appears_without_reload(served: tuple[str, Server], page: Any) -> None:
    """A hook event appended while the runs page and a run page are open shows on them
    by itself (server-sent events), the page never reloaded."""
    home, server = served
    page.goto(server.url)
    page.wait_for_selector("#live.on")
    page.evaluate("window.notReloaded = true")
    prompt = real("claude-code__2.1.332__UserPromptSubmit")
    prompt["session_id"] = "0f0f0f0f-live-4000-8000-000000000001"
    prompt["prompt"] = "appeared live"
    prompt["prompt_id"] = "d1d2d3d4-0000-4000-8000-00000000f002"
    agent(home, "claude-code", [prompt])
    page.wait_for_selector(f'tr[data-run-id="claude-code/{prompt["session_id"]}"]', timeout=WAIT_MS)
    assert page.evaluate("window.notReloaded") is True

    detail = cli_json(home, "run", FAILING_SESSION)
    page.goto(server.url + "runs/" + detail["run_id"])
    page.wait_for_selector("#live.on")
    page.evaluate("window.notReloaded = true")
    failure = real("claude-code__2.1.332__PostToolUseFailure")
    retry = {**real("claude-code__2.1.332__PreToolUse"), "tool_use_id": "toolu_live_retry"}
    retry.update({k: failure[k] for k in ("session_id", "transcript_path", "cwd")})
    retry["tool_input"] = {"command": "ls /still-missing", "description": "retry"}
    agent(home, "claude-code", [retry])
    page.wait_for_selector("text=ls /still-missing", timeout=WAIT_MS)
    assert page.evaluate("window.notReloaded") is True
    assert page.locator(".step").count() == len(detail["step_list"]) + 1
