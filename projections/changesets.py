"""The changesets view: every file mutation a tool made, with the contents to diff it.

One change per file per successful edit call, from each agent's own records (the
shapes are in :mod:`projections.changeshapes`). A change knows its run, its step
(the call id), the path, the operation (``create``/``modify``/``delete``), the
digests of the content before and after, and the lines added and removed.

**Contents are content-addressed blobs in the view's own state** (``b:`` + SHA-256
of the UTF-8 text): a change stores digests, one content edited a thousand times is
stored once per distinct version, and ``journal diff`` needs neither the working tree
nor the log. The view is disposable like every view: the log's payloads hold the same
text, and a rebuild stores the same blobs.

Where a record does not carry the content before (Cursor's ``afterFileEdit``, a Codex
patch, an OpenCode edit without ``filediff``), the view replays the edit on the
content the same run left the file in, if it knows it; otherwise the change keeps
the edit's own hunks and its before and after stay unknown (``None`` digests): a
diff cannot be made from it and says so. A Codex ``apply_patch`` is known from its
``PreToolUse`` (the patch text) and becomes a change only once its ``PostToolUse``
or its rollout ``FileChange`` item says it applied; a failed or declined patch,
like every failed or refused call of the other agents, is no change.

A retraction (``journal retract``: a record of kind :data:`RETRACT_KIND`) never
deletes: it records up to which seq a run's changes (or those of one path) are
retracted, and the queries leave those changes out (:mod:`projections.changequeries`).
"""

from __future__ import annotations

import re
import struct
from typing import TYPE_CHECKING, ClassVar

import msgspec

from journal.digest import digest

from .changeshapes import (
    CLAUDE_TOOLS,
    GEMINI_TOOLS,
    UNKNOWN,
    Mutation,
    codex_patch,
    hook_mutations,
    opencode_mutations,
    rollout_changes,
)
from .identity import MAX_RUN_ID_BYTES, event_of, ident, text
from .lines import rollout_item
from .nested import DECODE_ERRORS
from .patchtext import apply_hunks, apply_v4a, count_changes, replace
from .view import View

if TYPE_CHECKING:
    from collections.abc import Iterator

    from journal.records import Record

    from .identity import Event
    from .view import State

__all__ = [
    "RETRACT_KIND",
    "RETRACT_SOURCE",
    "Change",
    "ChangesetsView",
    "blob",
    "iter_changes",
    "retract_name",
    "retractions",
]

#: The kind and source of the records ``journal retract`` appends.
RETRACT_KIND = "changes.retract"
RETRACT_SOURCE = "journal"

_SEQ = struct.Struct(">QH")
_CHANGES = b"c:"
_BLOBS = b"b:"
_LAST = b"l:"
_PENDING = b"p:"
_SEEN = b"k:"
_RETRACT = b"x:"
_MAX_PATH_KEY = 200
_NOT_APPLIED = frozenset({"failed", "declined"})
_KINDS = frozenset(
    {
        "PostToolUse",
        "PreToolUse",
        "AfterTool",
        "afterFileEdit",
        "message.part.updated",
        "transcript",
        RETRACT_KIND,
    }
)
# What Codex's apply_patch tool answers (PostToolUse), and what it says on success.
_EXIT = re.compile(r"Exit code: (-?\d+)")
_SUCCESS = "Success. Updated the following files"


class Change(msgspec.Struct, array_like=True, gc=False, tag="projections.change"):
    """One file mutation as stored (``c:`` + run + seq + index).

    ``before`` / ``after`` are hex digests of blobs, ``""`` for "no file", None when
    unknown. ``hunks`` is the edit's own text, kept only when ``after`` is unknown.
    """

    seq: int
    index: int
    time: int
    run_id: str
    tool_use_id: str | None
    tool: str | None
    path: str
    root: str | None
    operation: str
    before: str | None
    after: str | None
    additions: int
    deletions: int
    hunks: str | None = None


_ENCODE = msgspec.msgpack.Encoder().encode
_DECODE = msgspec.msgpack.Decoder(Change).decode
_PENDING_DECODE = msgspec.msgpack.Decoder(tuple[int, int, str]).decode


class _Retraction(msgspec.Struct, gc=False):
    run_id: object = None
    path: object = None


_RETRACTION = msgspec.json.Decoder(_Retraction).decode


def _path_key(run_b: bytes, path: str) -> bytes:
    raw = path.encode()
    if len(raw) > _MAX_PATH_KEY:
        raw = digest(raw)
    return run_b + b"\x00" + raw


def _store(state: State, content: object, known: _Known | None = None) -> str | None:
    """The digest of ``content`` ("" for no file, None unknown), stored as a blob.

    ``known``: a content hashed before (the file's last version), reused if equal.
    """
    if content is None:
        return ""
    if type(content) is not str:
        return None
    if known is not None and known[0] == content:
        raw, found = known[1], known[2]
    else:
        raw = content.encode("utf-8", "surrogatepass")
        found = digest(raw)
    state.put(_BLOBS + found, raw)
    return found.hex()


#: A content, its UTF-8 bytes and their digest.
_Known = tuple[str, bytes, bytes]


def blob(state: State, found: str) -> str | None:
    """The content of the blob ``found`` (a hex digest), or None if the view lacks it."""
    raw = state.get(_BLOBS + bytes.fromhex(found))
    return None if raw is None else bytes(raw).decode("utf-8", "surrogatepass")


def _counts(m: Mutation, before: object, after: object) -> tuple[int, int]:
    hunks = m.hunks
    if hunks is not None:
        lines = [line for hunk in hunks for line in hunk[4]]
    elif m.patch is not None and not (type(before) is str and type(after) is str):
        lines = [line for chunk in m.patch.chunks for line in chunk[1]]
    elif type(before) is str or type(after) is str:
        return count_changes(
            before if type(before) is str else "", after if type(after) is str else ""
        )
    elif m.edits is not None:
        added = sum(new.count("\n") + 1 for _old, new, _all in m.edits if new)
        removed = sum(old.count("\n") + 1 for old, _new, _all in m.edits if old)
        return added, removed
    else:
        return 0, 0
    return sum(1 for x in lines if x[:1] == "+"), sum(1 for x in lines if x[:1] == "-")


def _hunk_text(m: Mutation) -> str | None:
    if m.hunks is not None:
        return "".join(
            f"@@ -{h[0]},{h[1]} +{h[2]},{h[3]} @@\n" + "".join(line + "\n" for line in h[4])
            for h in m.hunks
        )
    if m.patch is not None:
        return "".join(
            f"@@ {anchor}\n" + "".join(line + "\n" for line in body)
            for anchor, body, _eof in m.patch.chunks
        )
    if m.edits is not None:
        return "".join(f"<<< {old!r}\n>>> {new!r}\n" for old, new, _all in m.edits)
    return None


def _replay(m: Mutation, before: object) -> object:
    """The content after ``m`` given the known content before it (UNKNOWN: no fit)."""
    base = before if type(before) is str else ""
    found: str | None = None
    if m.patch is not None:
        found = apply_v4a(base, m.patch)
    if found is None and m.edits is not None:
        found = replace(base, m.edits)
    if found is None and m.hunks is not None:
        found = apply_hunks(base, m.hunks)
    return UNKNOWN if found is None else found


class ChangesetsView(View):
    """Every file mutation of every run (see the module docstring)."""

    name: ClassVar[str] = "changesets"
    version: ClassVar[int] = 1
    kinds: ClassVar[frozenset[str] | None] = _KINDS

    def __init__(self) -> None:
        # The last content stored per file, so that the next edit's "before" (most
        # often that very content) is not hashed again. Only a digest cache: the
        # blob is put either way, so the state never depends on it.
        self._known: dict[bytes, _Known] = {}

    def apply(self, state: State, record: Record) -> None:
        """Fold the file mutations ``record`` reports (most records report none)."""
        kind = record.kind
        if kind == RETRACT_KIND:
            self._retract(state, record)
            return
        if kind == "transcript" and (
            record.source != "codex" or b'"FileChange"' not in record.payload
        ):
            return
        ev = event_of(record)
        if ev is None:
            return
        if ev.hook is not None:
            self._hook(state, ev)
        elif ev.rollout is not None:
            self._rollout(state, ev)
        elif kind == "message.part.updated" and ev.props is not None:
            call, found = opencode_mutations(ev)
            if found and self._first(state, ev, call):
                self._fold(state, ev, record.seq, ev.time, call, found)

    def _hook(self, state: State, ev: Event) -> None:
        hook = ev.hook
        assert hook is not None
        kind = ev.kind
        tool = text(hook.tool_name)
        if kind == "afterFileEdit":
            found = hook_mutations(ev, None)
            self._fold(state, ev, ev.record.seq, ev.time, None, found)
            return
        if tool == "apply_patch":
            call = ident(hook.tool_use_id)
            if call is None:
                return
            if kind == "PreToolUse":
                self._pend(state, ev, call)
            elif kind == "PostToolUse":
                self._decide(state, ev, call, _codex_applied(ev))
            return
        if kind == "PreToolUse":
            return
        if (kind == "PostToolUse" and tool in CLAUDE_TOOLS) or (
            kind == "AfterTool" and tool in GEMINI_TOOLS
        ):
            call = ident(hook.tool_use_id)
            found = hook_mutations(ev, tool)
            if found and self._first(state, ev, call):
                self._fold(state, ev, ev.record.seq, ev.time, call, found)

    def _first(self, state: State, ev: Event, call: str | None) -> bool:
        """Whether the call is new to the run (a repeated delivery changes nothing)."""
        if call is None:
            return True
        key = _SEEN + ev.run_b + b"\x00" + call.encode()
        if state.get(key) is not None:
            return False
        state.put(key, b"")
        return True

    def _pend(self, state: State, ev: Event, call: str) -> None:
        """A Codex patch about to be applied: kept until it is known to have applied."""
        if state.get(_SEEN + ev.run_b + b"\x00" + call.encode()) is not None:
            return
        key = _PENDING + ev.run_b + b"\x00" + call.encode()
        if state.get(key) is None:
            state.put(key, _ENCODE((ev.record.seq, ev.time, bytes(ev.record.payload).decode())))

    def _decide(self, state: State, ev: Event, call: str, applied: bool | None) -> None:
        """A Codex patch's outcome: applied (a change), failed (none), None (not told)."""
        if applied is None:
            return
        key = _PENDING + ev.run_b + b"\x00" + call.encode()
        raw = state.get(key)
        if raw is None or not self._first(state, ev, call):
            return
        state.delete(key)
        if not applied:
            return
        seq, when, payload = _PENDING_DECODE(raw)
        _cwd, found = codex_patch(payload.encode())
        self._fold(state, ev, seq, when, call, found)

    def _rollout(self, state: State, ev: Event) -> None:
        payload = ev.rollout
        assert payload is not None
        if payload.type != "item_completed":
            return
        item = rollout_item(payload.item)
        if item is None or item.type != "FileChange":
            return
        call = ident(item.id)
        if call is None:
            return
        status = item.status
        applied = True if status == "completed" else False if status in _NOT_APPLIED else None
        key = _PENDING + ev.run_b + b"\x00" + call.encode()
        if applied and state.get(key) is None:
            # No PreToolUse (untrusted hooks, an import): the item's own changes.
            if self._first(state, ev, call):
                found = rollout_changes(payload.item)
                self._fold(state, ev, ev.record.seq, ev.time, call, found)
            return
        self._decide(state, ev, call, applied)

    def _retract(self, state: State, record: Record) -> None:
        try:
            found = _RETRACTION(record.payload)
        except DECODE_ERRORS:
            return
        run_id, path = text(found.run_id), found.path
        if run_id is None or not (path is None or type(path) is str):
            return
        if len(run_id.encode()) > MAX_RUN_ID_BYTES or "\x00" in run_id:
            return
        key = _RETRACT + run_id.encode() + b"\x00" + retract_name(path or "").encode()
        state.put(key, _SEQ.pack(record.seq, 0)[:8])

    def _fold(
        self,
        state: State,
        ev: Event,
        seq: int,
        when: int,
        call: str | None,
        found: list[Mutation],
    ) -> None:
        run_b = ev.run_b
        run_id = ev.run_id
        replayed: dict[str, object] = {}
        for index, m in enumerate(found):
            last_key = _LAST + _path_key(run_b, m.path)
            before = m.before
            if m.origin is not None:
                m.after = replayed.get(m.origin, UNKNOWN)
            elif before is UNKNOWN:
                last = state.get(last_key)
                if last is not None:
                    before = None if not last else blob(state, bytes(last).decode())
                    if before is None and last:
                        before = UNKNOWN
            after = m.after
            if after is UNKNOWN and before is not UNKNOWN:
                after = _replay(m, before)
            if m.patch is not None and m.patch.move_to is not None:
                replayed[m.path] = _replay(m, before) if before is not UNKNOWN else UNKNOWN
            if before is None and after is None:
                continue
            if before is None:
                operation = "create"
            elif after is None:
                operation = "delete"
            else:
                operation = "modify"
            additions, deletions = _counts(m, before, after)
            known = self._known.get(last_key)
            before_digest = _store(state, before, known)
            after_digest = _store(state, after, known)
            change = Change(
                seq=seq,
                index=index,
                time=when,
                run_id=run_id,
                tool_use_id=call,
                tool=m.tool,
                path=m.path,
                root=m.root,
                operation=operation,
                before=before_digest,
                after=after_digest,
                additions=additions,
                deletions=deletions,
                hunks=_hunk_text(m) if after_digest is None else None,
            )
            state.put(_CHANGES + run_b + b"\x00" + _SEQ.pack(seq, index), _ENCODE(change))
            if after_digest is None:
                state.delete(last_key)
                self._known.pop(last_key, None)
                continue
            state.put(last_key, after_digest.encode())
            if type(after) is str and after_digest:
                if len(self._known) >= 256:
                    self._known.clear()
                self._known[last_key] = (
                    after,
                    after.encode("utf-8", "surrogatepass"),
                    bytes.fromhex(after_digest),
                )


def _codex_applied(ev: Event) -> bool | None:
    """Whether a Codex ``PostToolUse`` of ``apply_patch`` says the patch applied.

    Codex 0.171 answers ``"Exit code: 0\nWall time: …\nOutput:\nSuccess. Updated the
    following files: …"``; a patch that fails verification gets no ``PostToolUse``.
    """
    full = ev.full()
    if full is None or not full.tool_response:
        return None
    try:
        response = msgspec.json.decode(full.tool_response)
    except DECODE_ERRORS:
        return None
    if type(response) is not str:
        return None
    found = _EXIT.match(response)
    if found is not None:
        return found.group(1) == "0"
    return True if _SUCCESS in response else None


def retract_name(path: str) -> str:
    """How a retraction names ``path`` in its key: itself, or ``#`` and its SHA-256
    when it is too long for a key."""
    if len(path.encode()) <= _MAX_PATH_KEY:
        return path
    return "#" + digest(path.encode()).hex()


def iter_changes(state: State, run_id: str) -> Iterator[Change]:
    """The changes of ``run_id`` (a full run id, its child runs not included), in order."""
    for _key, raw in state.scan(_CHANGES + run_id.encode() + b"\x00"):
        yield _DECODE(raw)


def retractions(state: State, run_id: str) -> dict[str, int]:
    """``{path or "": seq}`` of the retractions recorded for ``run_id``."""
    prefix = _RETRACT + run_id.encode() + b"\x00"
    out = {}
    for key, raw in state.scan(prefix):
        out[bytes(key[len(prefix) :]).decode()] = _SEQ.unpack(bytes(raw) + b"\x00\x00")[0]
    return out
