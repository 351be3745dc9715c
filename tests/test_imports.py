"""The hook path imports only what an append needs (DESIGN §1, §3).

Each check runs in a fresh interpreter, since this test process has imported
everything already.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
HEAVY = ("click", "msgspec", "projections", "genai_prices", "pydantic")

_REPORT = """
import json, sys
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def _top_level_modules(code: str) -> set[str]:
    """Run ``code`` in a new interpreter; return the top-level modules it had loaded."""
    done = subprocess.run(
        [sys.executable, "-c", code + _REPORT],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return set(modules)


def test_hook_path_append_imports_nothing_heavy(tmp_path: pathlib.Path) -> None:
    """import journal.store plus an append (good and bad) loads no click, msgspec, projections."""
    code = f"""
import journal.store
from journal.errors import InvalidPayloadError
journal_ = journal.store.LmdbJournal({str(tmp_path / "home")!r})
journal_.append(b'{{"hook_event_name":"Stop"}}', source="claude-code", key="k")
journal_.append(b'{{"hook_event_name":"Stop"}}', source="claude-code", key="k")
try:
    journal_.append(b"not json")
except InvalidPayloadError:
    pass
assert journal_.head() == 1
journal_.close()
"""
    loaded = _top_level_modules(code)
    assert "lmdb" in loaded
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_hook_path_does_not_pay_for_openssl(tmp_path: pathlib.Path) -> None:
    """An append hashes with the builtin _sha256; hashlib (OpenSSL, ~5 ms) is not loaded."""
    code = f"""
import journal.store
journal_ = journal.store.LmdbJournal({str(tmp_path / "home")!r})
journal_.append(b'{{}}')
journal_.close()
"""
    assert "hashlib" not in _top_level_modules(code)


def test_package_import_is_light() -> None:
    """import journal loads no store, LMDB, msgspec, click or projections."""
    code = """
import sys
import journal
assert journal.__version__
assert "journal.store" not in sys.modules
"""
    loaded = _top_level_modules(code)
    assert not loaded & {"lmdb", *HEAVY}, sorted(loaded & {"lmdb", *HEAVY})


def test_package_names_load_on_first_use() -> None:
    """journal.LmdbJournal loads the store on first use, still without msgspec or click."""
    code = """
import journal
assert journal.LmdbJournal.__module__ == "journal.store"
"""
    loaded = _top_level_modules(code)
    assert "lmdb" in loaded
    assert not loaded & set(HEAVY)


def test_cli_may_import_click() -> None:
    """Importing the CLI's command group works and is where click comes in."""
    loaded = _top_level_modules("import journal.cli.main\n")
    assert "click" in loaded


def test_the_views_load_price_data_only_to_price() -> None:
    """The registry (every view command imports it) loads no genai-prices or pydantic:
    the costs view imports them on the first response it prices."""
    code = """
import projections.registry
import projections.costreport
"""
    loaded = _top_level_modules(code)
    assert not loaded & {"genai_prices", "pydantic"}, sorted(loaded & {"genai_prices", "pydantic"})
