"""``journal import AGENT PATH...``: backfill the agents' own session files.

Every file is captured as :func:`journal.agents.capture.capture` (the code the hooks
use at ``Stop`` and ``SessionEnd``) captures it, by :func:`journal.agents.bulk.capture_files`,
which writes the same records in a few big transactions: each complete line becomes a
record of kind ``transcript``, a file's cursor and each line's idempotency key make an
import safe to repeat or to run beside live hooks (nothing is journalled twice, only
lines added since are taken), and a line the hooks already captured is not taken again.

What is found under a directory, per agent:

- ``claude-code``: every ``*.jsonl`` (a ``~/.claude/projects`` tree, subagent
  transcripts included). Each line carries its ``sessionId``.
- ``codex``: every ``rollout-*.jsonl`` (``~/.codex/sessions/YYYY/MM/DD/``). A
  rollout's lines carry no session id; its first line, ``session_meta``, does
  (``payload.id``), and the whole file is that session: the lines are captured in
  file order, right behind it. Rollouts Codex has compressed (``.jsonl.zst``) are
  reported as skipped: decompress them (``zstd -d``) to import them.
- ``gemini``: the chat files under a ``chats`` directory (``~/.gemini/tmp/<project>/
  chats/``): ``session-*.jsonl`` (and a subagent's ``<id>.jsonl`` in a directory named
  after its parent session), whose first line carries the ``sessionId``; and the
  older ``session-*.json``, one JSON document Gemini CLI rewrote after every message.
  Such a document is taken the way Gemini CLI migrates it to JSONL: a record of its
  session fields (``sessionId``, ``projectHash``, ``startTime``, …) and one record per
  message, each compact JSON, keyed by the file, the position and the content (a
  message that grew since is taken again; an unchanged one never). A ``.json`` next to
  its migrated ``.jsonl`` is skipped: the JSONL holds every message.

Files given by name are taken as they are (``.json`` as a Gemini document for
``gemini``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable

from journal import digest as _digest
from journal import payload as _payload
from journal.errors import InvalidPayloadError, NotFoundError

from .bulk import capture_files
from .capture import KIND, CaptureReport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from journal.store import LmdbJournal
    from journal.writer import Writer

__all__ = ["SOURCES", "ImportPlan", "ImportReport", "import_transcripts", "plan", "session_of"]

SOURCES = ("claude-code", "codex", "gemini")
_COMPRESSED = ".jsonl.zst"
# The first line of a rollout (session_meta, with the instructions) can be long.
_FIRST_LINE_MAX = 4 * 1024 * 1024
# Records per write transaction when a Gemini JSON document is split.
_CHUNK_BYTES = 1024 * 1024


class ImportPlan:
    """The files an import will take, and those it leaves with the reason."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self.skipped: list[tuple[str, str]] = []


class ImportReport:
    """Totals of an import, each file's capture and the session it belongs to."""

    def __init__(self) -> None:
        self.files: list[CaptureReport] = []
        self.sessions: list[str | None] = []
        self.skipped: list[tuple[str, str]] = []

    def to_dict(self) -> dict[str, object]:
        per_file = []
        for report, session in zip(self.files, self.sessions, strict=True):
            per_file.append({**report.to_dict(), "session_id": session})
        return {
            "files": len(self.files),
            "sessions": len({s for s in self.sessions if s is not None}),
            "appended": sum(f.appended for f in self.files),
            "duplicates": sum(f.duplicates for f in self.files),
            "quarantined": sum(f.quarantined for f in self.files),
            "bytes": sum(f.bytes for f in self.files),
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "per_file": per_file,
        }


def _wanted(source: str, root: str, name: str) -> bool:
    if source == "codex":
        return name.startswith("rollout-") and name.endswith((".jsonl", _COMPRESSED))
    if source == "gemini":
        in_chats = "chats" in root.split(os.sep)[-2:]
        return in_chats and name.endswith((".jsonl", ".json"))
    return name.endswith(".jsonl")


def plan(source: str, paths: Iterable[str]) -> ImportPlan:
    """The files to import for ``source``: files as given, the agent's files under dirs.

    Raises:
        NotFoundError: a path does not exist.
    """
    found = ImportPlan()
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    if _wanted(source, root, name):
                        _take(found, source, os.path.join(root, name), names=set(files))
        elif os.path.exists(path):
            _take(found, source, path, names=None)
        else:
            raise NotFoundError(f"no such file or directory: {path}")
    return found


def _take(found: ImportPlan, source: str, path: str, *, names: set[str] | None) -> None:
    name = os.path.basename(path)
    if source == "codex" and name.endswith(_COMPRESSED):
        found.skipped.append((path, "compressed by Codex: decompress it (zstd -d) to import it"))
    elif (
        source == "gemini" and names is not None and name.endswith(".json") and f"{name}l" in names
    ):
        found.skipped.append((path, f"migrated by Gemini CLI: {name}l holds every message"))
    else:
        found.files.append(path)


def session_of(source: str, path: str) -> str | None:
    """The session a file belongs to, from its own first line (or document)."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline(_FIRST_LINE_MAX)
            if source == "gemini" and path.endswith(".json"):
                first += handle.read()
    except OSError:
        return None
    try:
        head = json.loads(first)
    except ValueError:
        return None
    if not isinstance(head, dict):
        return None
    if source == "codex":
        meta = head.get("payload")
        value = (
            meta.get("id")
            if head.get("type") == "session_meta" and isinstance(meta, dict)
            else None
        )
    else:
        value = head.get("sessionId")
    return value if isinstance(value, str) and value else None


def import_transcripts(
    journal: LmdbJournal,
    files: list[str],
    *,
    source: str = "claude-code",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Capture every file in ``files`` into ``journal``; ``progress`` gets bytes read."""
    report = ImportReport()
    documents = {
        i: _import_document(journal, path, progress)
        for i, path in enumerate(files)
        if source == "gemini" and path.endswith(".json")
    }
    lines = [path for i, path in enumerate(files) if i not in documents]
    captured = iter(capture_files(journal, lines, source=source, progress=progress))
    for i, path in enumerate(files):
        report.sessions.append(session_of(source, path))
        report.files.append(documents[i] if i in documents else next(captured))
    return report


def _import_document(
    journal: LmdbJournal, path: str, progress: Callable[[int], None] | None
) -> CaptureReport:
    """Split a Gemini CLI JSON chat document into records (see the module doc)."""
    report = CaptureReport(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return report
    received_at = time.time_ns()
    name = os.path.abspath(path).encode("utf-8", "surrogateescape")
    try:
        doc = json.loads(data)
        messages = doc["messages"]
        if not isinstance(messages, list) or not isinstance(doc.get("sessionId"), str):
            raise ValueError("no sessionId and messages")
    except (ValueError, TypeError, KeyError) as exc:
        reason = f"gemini chat file: not a conversation document ({exc})"
        journal.write(lambda w: w.quarantine(data, reason, b"gemini", KIND.encode(), received_at))
        report.quarantined = 1
    else:
        meta = {k: v for k, v in doc.items() if k != "messages"}
        records = [meta, *(m for m in messages if isinstance(m, dict))]
        prepared = [_prepare(name, i, r) for i, r in enumerate(records)]
        for start, end in _chunks(prepared):
            chunk = prepared[start:end]
            counts = journal.write(lambda w, c=chunk: _write(w, c, received_at))  # type: ignore[misc]
            assert counts is not None  # no gate: the write always runs
            report.appended += counts[0]
            report.duplicates += counts[1]
            report.quarantined += counts[2]
    report.bytes = report.offset = len(data)
    report.complete = True
    if progress is not None:
        progress(len(data))
    return report


def _prepare(name: bytes, index: int, record: object) -> tuple[bytes | None, bytes, bytes]:
    """(stored bytes, key, digest) of one record of a document; (None, reason, bytes)
    for one that is not a valid payload (too big, too deep): it is quarantined."""
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
    try:
        stored = _payload.validate(line)
    except InvalidPayloadError as exc:
        return None, exc.reason.encode(), line
    pdig = _digest.digest(stored)
    key = b"g:" + _digest.digest(name + b"\0json\0%d\0" % index + pdig).hex()[:40].encode()
    return stored, key, pdig


def _chunks(prepared: list[tuple[bytes | None, bytes, bytes]]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = size = 0
    for i, (_stored, _key, data) in enumerate(prepared):
        size += len(data) + 64
        if size >= _CHUNK_BYTES:
            spans.append((start, i + 1))
            start, size = i + 1, 0
    if start < len(prepared):
        spans.append((start, len(prepared)))
    return spans


def _write(
    w: Writer, chunk: list[tuple[bytes | None, bytes, bytes]], received_at: int
) -> tuple[int, int, int]:
    appended = duplicates = quarantined = 0
    source, kind = b"gemini", KIND.encode()
    for stored, key, extra in chunk:
        if stored is None:
            reason = f"gemini chat record: {key.decode()}"
            w.quarantine(extra, reason, source, kind, received_at)
            quarantined += 1
            continue
        done = w.append(stored, source, kind, key, received_at, extra)
        if done.duplicate:
            duplicates += 1
        else:
            appended += 1
    return appended, duplicates, quarantined
