"""Properties of the changesets view: composition, and invariants 7 and 8 over edit logs.

- Composing a run's edits and diffing equals diffing its first content against its
  final content, and ``git apply`` of that diff reproduces the final content.
- Folding an edit log in any batches, with new view objects and reloaded states in
  between, equals one fold; an interrupted LMDB catch-up ends where a rebuild does.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import tempfile
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from journal import payload as journal_payload
from journal.store import LmdbJournal
from journal.writer import Writer
from projections.changequeries import run_changes, run_diff
from projections.changesets import ChangesetsView
from projections.patchtext import count_changes, render
from tests.projections.changelogs import (
    ROOT,
    SID,
    SUCCESS,
    applies,
    codex_item,
    codex_post,
    codex_pre,
    edit,
    retraction,
    write,
)
from tests.projections.viewchecks import catch_up_in_splits, fold_in_batches

Event = tuple[str, str, Any]
LINES = st.lists(st.sampled_from(["a", "b", "c", "dd", "", "e f"]), max_size=8)


@st.composite
def edit_sessions(draw: st.DrawFn) -> tuple[str, str, list[Event]]:
    """A run's edits of one file: (first content, final content, its records)."""
    path = f"{ROOT}/f.txt"
    text = "\n".join(draw(LINES)) + draw(st.sampled_from(["\n", ""]))
    first = text
    events: list[Event] = [write(path, text, "t0")]
    for n in range(1, draw(st.integers(1, 6)) + 1):
        lines = text.split("\n")
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        j = draw(st.integers(i, len(lines)))
        old = "\n".join(lines[i:j])
        new = "\n".join(draw(LINES))
        if not old or old == new:
            old = text
        if not old:
            events.append(write(path, new, f"t{n}", original=text))
            text = new
            continue
        original = text if draw(st.booleans()) else None  # older versions send none
        events.append(edit(path, old, new, f"t{n}", original))
        text = text.replace(old, new, 1)
    return first, text, events


@given(edit_sessions())
def test_composed_edits_diff_as_the_final_content(session: tuple[str, str, list[Event]]) -> None:
    """run_diff of many edits == the diff of creation → final content, and git applies it."""
    first, final, events = session
    with tempfile.TemporaryDirectory() as tmp, LmdbJournal(os.path.join(tmp, "h")) as journal:
        for source, kind, payload in events:
            journal.append(json.dumps(payload).encode(), source=source, kind=kind)
        patch = run_diff(journal, SID)
        assert patch == render("f.txt", None, final)
        last = run_changes(journal, SID)[-1]
        assert last["after_digest"] == hashlib.sha256(final.encode()).hexdigest()
        if first != final or final:
            assert applies(pathlib.Path(tmp, "repo"), {}, patch) == {"f.txt": final}


PATCHES = {
    "add": "*** Begin Patch\n*** Add File: h.py\n+x = 1\n*** End Patch\n",
    "update": "*** Begin Patch\n*** Update File: h.py\n@@\n-x = 1\n+x = 2\n*** End Patch\n",
    "bad": "*** Begin Patch\n*** Update File: h.py\n@@\n-nothing\n+x\n*** End Patch\n",
}


@st.composite
def edit_logs(draw: st.DrawFn) -> list[Event]:
    """Interleaved edit runs of Claude Code and Codex, with retractions, repeats and
    reordered deliveries."""
    streams: list[list[Event]] = []
    for s in range(draw(st.integers(1, 3))):
        sid = f"s{s}"
        _first, _final, claude = draw(edit_sessions())
        claude = [(src, kind, {**p, "session_id": sid}) for src, kind, p in claude]
        codex: list[Event] = []
        for n, name in enumerate(draw(st.lists(st.sampled_from(sorted(PATCHES)), max_size=4))):
            call = f"c{n}"
            codex.append(codex_pre(PATCHES[name], call, sid))
            how = draw(st.sampled_from(["post", "item", "failed", "none"]))
            if how == "post":
                codex.append(codex_post(PATCHES[name], call, SUCCESS, sid))
            elif how in ("item", "failed"):
                status = "completed" if how == "item" else "failed"
                codex.append(codex_item(call, {}, status, sid))
        if draw(st.booleans()):
            claude.append(
                retraction(f"claude-code/{sid}", draw(st.sampled_from([None, f"{ROOT}/f.txt"])))
            )
        streams += [claude, codex]
    out: list[Event] = []
    while any(streams):
        stream = draw(st.sampled_from([s for s in streams if s]))
        event = stream.pop(0)
        out.append(event)
        if draw(st.integers(0, 9)) == 0:
            out.append(event)  # a repeated delivery
    return out


def _append(journal: LmdbJournal, events: list[Event]) -> None:
    if not events:
        return

    def work(writer: Writer) -> None:
        for source, kind, payload in events:
            stored = journal_payload.validate(json.dumps(payload).encode())
            writer.append(stored, source.encode(), kind.encode(), b"", 1, agent=None)

    journal.write(work)


def _records(events: list[Event]) -> list[Any]:
    with tempfile.TemporaryDirectory() as tmp, LmdbJournal(os.path.join(tmp, "h")) as journal:
        _append(journal, events)
        return list(journal.read())


@given(edit_logs(), st.lists(st.integers(0, 30), max_size=6))
def test_a_fold_in_any_batches_equals_one_fold(events: list[Event], cuts: list[int]) -> None:
    """Folding edit records in batches, new view and reloaded state between, changes nothing."""
    fold_in_batches(_records(events), cuts, ChangesetsView)


@given(
    edit_logs(),
    st.lists(
        st.tuples(st.integers(0, 20), st.integers(1, 15), st.booleans()), min_size=1, max_size=4
    ),
    st.integers(1, 8),
)
def test_catch_up_in_random_splits_equals_a_rebuild(
    events: list[Event], plan: list[tuple[int, int, bool]], batch: int
) -> None:
    """Invariants 7 and 8 for changesets: interrupted catch-ups end where a rebuild does."""
    catch_up_in_splits(events, plan, batch, ChangesetsView, append=_append)


TEXTS = st.text(alphabet="ab\n", max_size=24)


@given(TEXTS, TEXTS)
def test_line_counts_agree_with_the_line_totals(before: str, after: str) -> None:
    """count_changes: added - removed is the change in line count; zero only if equal."""
    added, removed = count_changes(before, after)

    def lines(text: str) -> int:
        return text.count("\n") + (1 if text and not text.endswith("\n") else 0)

    assert added - removed == lines(after) - lines(before)
    assert ((added, removed) == (0, 0)) == (before == after)
    assert added <= lines(after)
    assert removed <= lines(before)
