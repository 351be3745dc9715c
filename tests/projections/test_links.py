"""The links view: the runs of one conversation and how each continues another."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from journal.errors import NotFoundError
from projections.linkqueries import Conversation, conversation
from projections.links import RELATIONS, LinksView
from projections.runs import RunsView
from projections.state import MemoryState
from tests.projections.strategies import BOOT, LogBuilder, fold

AGENT = (4242, 1000, BOOT)
LATER_AGENT = (4343, 5000, BOOT)


def line(sid: str, uuid: str, parent: str | None, **more: Any) -> dict[str, Any]:
    """A Claude Code transcript line of session ``sid``."""
    return {
        "type": "user",
        "sessionId": sid,
        "uuid": uuid,
        "parentUuid": parent,
        "message": {"role": "user", "content": "hi"},
        **more,
    }


def stamp(ns: int) -> str:
    when = datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def talk(log: LogBuilder, sid: str, *uuids: tuple[str, str | None]) -> None:
    """Transcript lines of ``sid``, each stamped with the time it is journalled."""
    for uuid, parent in uuids:
        log.line(line(sid, uuid, parent, timestamp=stamp(log.now + 1_000_000_000)))


def ask(log: LogBuilder, ident: str) -> Conversation:
    records = log.records()
    runs, links = MemoryState(), MemoryState()
    fold(records, RunsView(), runs)
    fold(records, LinksView(), links)
    return conversation(runs, links, ident, now=log.now)


def relations(found: Conversation) -> list[tuple[str, str, str]]:
    return [(link.run_id, link.relation, link.from_run_id) for link in found.links]


def test_a_lone_session_is_a_conversation_of_its_own() -> None:
    log = LogBuilder("a")
    log.claude("SessionStart", source="startup")
    talk(log, "a", ("u1", None), ("u2", "u1"))
    found = ask(log, "a")
    assert found.conversation == "claude-code/a"
    assert [one.run_id for one in found.runs] == ["claude-code/a"]
    assert found.links == []


def test_resume_keeping_the_session_id_is_a_link_to_itself() -> None:
    """Claude Code 2.1.328: ``--resume`` keeps the id, SessionStart says ``resume``."""
    log = LogBuilder("a")
    log.process = AGENT
    log.claude("SessionStart", source="startup")
    talk(log, "a", ("u1", None), ("u2", "u1"))
    log.claude("Stop")
    log.claude("SessionEnd", reason="other")
    log.process = LATER_AGENT
    log.claude("SessionStart", source="resume")
    talk(log, "a", ("u3", "u2"))
    found = ask(log, "claude-code/a")
    assert relations(found) == [("claude-code/a", "resume", "claude-code/a")]
    assert found.links[0].session_id == "a"


def test_a_new_session_continuing_an_old_transcript_is_a_resume() -> None:
    """Older Claude Code: a new session id whose first line's parent is an old line."""
    log = LogBuilder("old")
    log.claude("SessionStart", source="startup")
    talk(log, "old", ("u1", None), ("u2", "u1"))
    log.claude("SessionEnd", reason="other")
    new = LogBuilder("new")
    new.now = log.now
    new.claude("SessionStart", source="resume")
    talk(new, "new", ("u3", "u2"), ("u4", "u3"))
    log.events.extend(new.events)
    log.now = new.now
    for ident in ("old", "new"):
        found = ask(log, ident)
        assert found.conversation == "claude-code/old"
        assert [one.run_id for one in found.runs] == ["claude-code/old", "claude-code/new"]
        assert relations(found) == [("claude-code/new", "resume", "claude-code/old")]


def test_copied_history_links_once() -> None:
    """A session that starts by copying the old lines (same uuids) links once."""
    log = LogBuilder("old")
    talk(log, "old", ("u1", None), ("u2", "u1"))
    talk(log, "new", ("u1", None), ("u2", "u1"), ("u3", "u2"))
    assert relations(ask(log, "new")) == [("claude-code/new", "resume", "claude-code/old")]


def test_a_continuation_while_the_old_run_goes_on_is_a_fork() -> None:
    log = LogBuilder("old")
    talk(log, "old", ("u1", None), ("u2", "u1"))
    talk(log, "fork", ("f1", "u2"))
    talk(log, "old", ("u3", "u2"))  # the original went on after the fork began
    assert relations(ask(log, "fork")) == [("claude-code/fork", "fork", "claude-code/old")]


def test_clear_links_the_new_session_to_the_one_the_agent_was_in() -> None:
    log = LogBuilder("a")
    log.process = AGENT
    log.claude("SessionStart", source="startup")
    log.claude("UserPromptSubmit", prompt="one")
    log.claude("SessionEnd", reason="clear")
    b = LogBuilder("b")
    b.now, b.process = log.now, AGENT
    b.claude("SessionStart", source="clear")
    b.claude("UserPromptSubmit", prompt="two")
    log.events.extend(b.events)
    log.now = b.now
    found = ask(log, "b")
    assert relations(found) == [("claude-code/b", "clear", "claude-code/a")]
    assert found.conversation == "claude-code/a"


def test_clear_without_a_known_process_falls_back_to_the_cwd() -> None:
    log = LogBuilder("a")
    log.claude("SessionStart", source="startup")
    log.claude("SessionEnd", reason="clear")
    log.session_id = "b"
    log.claude("SessionStart", source="clear")
    assert relations(ask(log, "b")) == [("claude-code/b", "clear", "claude-code/a")]


def test_compact_inside_one_session_links_to_itself() -> None:
    log = LogBuilder("a")
    log.process = AGENT
    log.claude("SessionStart", source="startup")
    log.claude("PreCompact", trigger="auto")
    log.claude("SessionStart", source="compact")
    assert relations(ask(log, "a")) == [("claude-code/a", "compact", "claude-code/a")]


def test_codex_exec_resume_is_continue() -> None:
    log = LogBuilder("t")
    base = {"session_id": "t", "cwd": "/w", "model": "gpt-5.5"}
    log.add(
        "codex", "SessionStart", {**base, "hook_event_name": "SessionStart", "source": "startup"}
    )
    log.add("codex", "Stop", {**base, "hook_event_name": "Stop"})
    log.add(
        "codex", "SessionStart", {**base, "hook_event_name": "SessionStart", "source": "resume"}
    )
    assert relations(ask(log, "t")) == [("codex/t", "continue", "codex/t")]


def test_subagents_are_links_of_the_conversation() -> None:
    log = LogBuilder("a")
    log.claude("SessionStart", source="startup")
    log.claude("SubagentStart", agent_id="sub1", agent_type="Explore")
    log.claude("SubagentStop", agent_id="sub1")
    found = ask(log, "a")
    assert relations(found) == [("claude-code/a/sub1", "subagent", "claude-code/a")]
    assert ask(log, "claude-code/a/sub1").conversation == "claude-code/a"


def test_a_chain_of_resumes_is_one_conversation_in_order() -> None:
    log = LogBuilder("s1")
    talk(log, "s1", ("a", None))
    talk(log, "s2", ("b", "a"))
    talk(log, "s3", ("c", "b"))
    found = ask(log, "s2")
    assert [one.session_id for one in found.runs] == ["s1", "s2", "s3"]
    assert relations(found) == [
        ("claude-code/s2", "resume", "claude-code/s1"),
        ("claude-code/s3", "resume", "claude-code/s2"),
    ]
    assert {link.relation for link in found.links} <= set(RELATIONS)


def test_sidechain_lines_link_nothing() -> None:
    log = LogBuilder("a")
    talk(log, "a", ("u1", None))
    log.line(line("b", "u9", "u1", isSidechain=True, timestamp=stamp(log.now)))
    assert ask(log, "a").links == []


def test_unknown_run() -> None:
    log = LogBuilder("a")
    log.claude("SessionStart", source="startup")
    with pytest.raises(NotFoundError):
        ask(log, "nope")


def test_one_line_can_link_its_run_to_two_others() -> None:
    """A line that repeats one session's line and chains onto another's links its run
    to both, and each of the three finds the whole conversation (found by Hypothesis:
    the second link used to overwrite the first)."""
    log = LogBuilder("s1")
    talk(log, "s1", ("u0", None))
    talk(log, "s2", ("u2", None))
    talk(log, "s3", ("u0", "u2"))
    for ident in ("s1", "s2", "s3"):
        found = ask(log, ident)
        assert [one.session_id for one in found.runs] == ["s1", "s2", "s3"]
        assert sorted(relations(found)) == [
            ("claude-code/s3", "resume", "claude-code/s1"),
            ("claude-code/s3", "resume", "claude-code/s2"),
        ]
