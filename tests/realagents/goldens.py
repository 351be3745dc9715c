"""Golden payloads of the real agents: ``tests/fixtures/real``, checked or rewritten.

(Kept apart from :mod:`tests.realagents.harness`, which re-exports both names.)
"""

from __future__ import annotations

import json
import os
import pathlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.realagents.harness import AgentRun

__all__ = ["FIXTURES", "UPDATE_FIXTURES", "check_fixtures"]

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "real"
UPDATE_FIXTURES = os.environ.get("AGENT_JOURNAL_UPDATE_FIXTURES") == "1"


def _scrub(value: Any, root: pathlib.Path) -> Any:
    """The payload with the temporary root replaced by ``/ROOT`` (and its slug by ``-ROOT``)."""
    text = json.dumps(value, ensure_ascii=False)
    real = str(root)
    slug = re.sub(r"[^A-Za-z0-9]", "-", real)
    text = text.replace(real, "/ROOT").replace(slug, "-ROOT")
    return json.loads(text)


def check_fixtures(
    run: AgentRun,
    kinds: set[str] | None = None,
    suffix: str = "",
    select: Callable[[dict[str, Any]], bool] | None = None,
) -> None:
    """Compare (or, with ``AGENT_JOURNAL_UPDATE_FIXTURES=1``, write) the golden payloads.

    One file per event kind, ``<agent>__<version>__<kind>[__suffix].json``: the first
    payload of that kind the run journalled (of those ``select`` accepts), temporary
    paths scrubbed. Without the
    variable, each payload's top-level fields must be the golden file's: a new agent
    version that changes them shows up here.
    """
    seen: dict[str, Any] = {}
    for record in run.log():
        kind = record["kind"]
        if kind == "transcript" or (kinds is not None and kind not in kinds):
            continue
        if select is not None and not select(record["payload"]):
            continue
        seen.setdefault(kind, _scrub(record["payload"], run.root))
    assert seen, "the run journalled no hook payloads"
    name = f"{run.agent}__{run.version}__{{}}{'__' + suffix if suffix else ''}.json"
    if UPDATE_FIXTURES:
        FIXTURES.mkdir(parents=True, exist_ok=True)
        for kind, payload in seen.items():
            text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
            (FIXTURES / name.format(kind)).write_text(text)
        return
    for kind, payload in seen.items():
        path = FIXTURES / name.format(kind)
        assert path.is_file(), (
            f"no golden payload {path.name}: regenerate with AGENT_JOURNAL_UPDATE_FIXTURES=1"
        )
        golden = json.loads(path.read_text())
        assert sorted(payload) == sorted(golden), f"{kind}: fields changed from {path.name}"
