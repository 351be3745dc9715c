"""Line attribution for Agent Trace: which journalled edits wrote which committed lines."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from projections.trace import Attributed, Edit, attribute, provenance, ranges


def edit(run: str, seq: int, before: str | None, after: str | None) -> Edit:
    return Edit(run_id=run, seq=seq, before=before, after=after)


def text(*lines: str) -> str:
    return "".join(f"{line}\n" for line in lines)


def test_a_created_file_committed_as_written_is_all_the_agents() -> None:
    content = text("a", "b", "c")
    found = attribute(content, {1, 2, 3}, [edit("r1", 1, "", content)])
    assert found == [Attributed(1, 0), Attributed(2, 0), Attributed(3, 0)]


def test_only_the_commits_added_lines_are_claimed() -> None:
    content = text("a", "b", "c")
    found = attribute(content, {2}, [edit("r1", 1, "", content)])
    assert found == [Attributed(2, 0)]


def test_a_line_a_person_rewrote_is_not_claimed_and_a_line_they_touched_is_mixed() -> None:
    agent = text("def total(xs):", "    return sum(xs)", "# TODO")
    person = text("def total(xs):", "    return sum(xs) + 0", "print('entirely new thing here')")
    found = attribute(person, {1, 2, 3}, [edit("r1", 1, "", agent)])
    assert Attributed(1, 0) in found
    assert Attributed(2, 0, mixed=True) in found
    assert all(one.line != 3 for one in found)


def test_later_edits_take_over_the_lines_they_write() -> None:
    first = text("x = 1", "y = 2")
    second = text("x = 1", "y = 3", "z = 4")
    found = attribute(second, {1, 2, 3}, [edit("r1", 1, "", first), edit("r2", 5, first, second)])
    assert found == [Attributed(1, 0), Attributed(2, 1), Attributed(3, 1)]


def test_lines_changed_outside_the_journal_lose_their_stamp() -> None:
    """The second edit's before differs from the first's after: someone else changed
    the file in between, and their line is nobody's."""
    first = text("a", "b")
    between = text("a", "human")
    second = text("a", "human", "c")
    lines, stamps = provenance([edit("r1", 1, "", first), edit("r1", 2, between, second)])
    assert lines == ["a", "human", "c"]
    assert stamps == [0, None, 1]


def test_an_edit_with_unknown_content_is_skipped() -> None:
    lines, stamps = provenance([edit("r1", 1, None, None)])
    assert (lines, stamps) == ([], [])


def test_ranges_group_consecutive_lines() -> None:
    assert ranges([5, 1, 2, 3, 7, 8, 2]) == [(1, 3), (5, 5), (7, 8)]
    assert ranges([]) == []


_LINES = st.lists(st.sampled_from(["a", "b", "c", "d", "", "x = 1", "y = 2"]), max_size=12)


@given(st.lists(_LINES, min_size=1, max_size=5), _LINES, st.sets(st.integers(1, 14)))
def test_claimed_lines_are_added_lines_of_the_commit_in_order(versions, final, added):
    """Attributed lines are a subset of the commit's added lines, ascending, each
    naming a real edit; and the answer is the same every time it is asked."""
    contents = ["".join(f"{x}\n" for x in v) for v in versions]
    edits = [edit("r", i, contents[i - 1] if i else "", c) for i, c in enumerate(contents)]
    at_commit = "".join(f"{x}\n" for x in final)
    found = attribute(at_commit, added, edits)
    numbers = [one.line for one in found]
    assert set(numbers) <= added
    assert set(numbers) <= set(range(1, len(final) + 1))
    assert numbers == sorted(set(numbers))
    assert all(0 <= one.edit < len(edits) for one in found)
    assert attribute(at_commit, added, edits) == found


@given(st.lists(_LINES, min_size=1, max_size=5))
def test_a_file_committed_as_the_agent_left_it_is_claimed_where_the_agent_wrote(versions):
    contents = ["".join(f"{x}\n" for x in v) for v in versions]
    edits = [edit("r", i, contents[i - 1] if i else "", c) for i, c in enumerate(contents)]
    lines, stamps = provenance(edits)
    added = set(range(1, len(lines) + 1))
    found = attribute(contents[-1], added, edits)
    assert [one.line for one in found] == [i + 1 for i, s in enumerate(stamps) if s is not None]
    assert not any(one.mixed for one in found)
