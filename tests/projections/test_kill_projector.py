"""A projector killed with SIGKILL mid-batch resumes to the same state (invariants 7, 8).

A real process catches the real views (runs, steps) up over a large journal of
realistic, interleaved sessions and is killed at a random moment, round after round.
After every kill the views must still be a fold of exactly records 1..checkpoint,
with the checkpoint not ahead of head; at the end a catch-up must finish the job and
equal a rebuild from scratch, and LMDB's own audit of the views file must pass.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from journal.store import LmdbJournal
from projections.engine import Views
from projections.registry import VIEWS
from projections.runs import RunsView
from projections.state import MemoryState
from projections.steps import StepsView
from projections.view import View
from tests.conftest import REPO
from tools.bench.views import build

pytestmark = pytest.mark.slow

RECORDS = 60_000
BATCH = 1_000
ROUNDS = 10

PROJECTOR = r"""
import sys
from journal.store import LmdbJournal
from projections.engine import Views

with LmdbJournal(sys.argv[1]) as journal, Views(journal, batch=int(sys.argv[2])) as views:
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    views.catch_up()
sys.stdout.write("done\n")
"""


def _fold(journal: LmdbJournal, view: View, upto: int) -> dict[bytes, bytes]:
    state = MemoryState()
    for record in journal.read(limit=upto):
        if view.kinds is None or record.kind in view.kinds:
            view.apply(state, record)
    return state.data


def _kill_at_random(home: str, rng: random.Random) -> int:
    """Start a projector, SIGKILL it after a random delay; return its exit status."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PROJECTOR, home, str(BATCH)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n", proc.communicate()[1]
    time.sleep(rng.uniform(0.0, 0.6))
    os.kill(proc.pid, signal.SIGKILL)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, -signal.SIGKILL), err
    return proc.returncode


def _audit(path: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lmdb", "verify", "-e", path],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_projector_killed_mid_batch_resumes_to_the_rebuilt_state(home: str) -> None:
    """SIGKILLed catch-ups leave state = fold(1..cp), cp <= head; finishing equals a rebuild."""
    build(home, RECORDS)
    rng = random.Random(4)
    killed_mid_way = 0
    with LmdbJournal(home) as journal:
        head = journal.head()
        assert head == RECORDS
        checkpoints = []
        for _round in range(ROUNDS):
            status = _kill_at_random(home, rng)
            with Views(journal) as views:
                for view in (RunsView(), StepsView()):
                    checkpoint = views.checkpoint(view.name)
                    assert checkpoint <= head
                    assert views.dump(view.name) == _fold(journal, view, checkpoint)
                lowest = min(views.checkpoint(view.name) for view in VIEWS)
            checkpoints.append(lowest)
            if status == -signal.SIGKILL and lowest < head:
                killed_mid_way += 1
        assert killed_mid_way >= 1, checkpoints  # some kill landed during a catch-up
        assert checkpoints == sorted(checkpoints)  # progress is never lost
        with Views(journal) as views:
            views.catch_up()
            caught_up = {view.name: views.dump(view.name) for view in VIEWS}
            assert all(views.checkpoint(view.name) == head for view in VIEWS)
            views.rebuild()
            rebuilt = {view.name: views.dump(view.name) for view in VIEWS}
        assert caught_up == rebuilt
        assert all(rebuilt.values())
    _audit(os.path.join(home, "views"))
