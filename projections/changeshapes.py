"""What one record says about file mutations, for the changesets view: each agent's shape.

A :class:`Mutation` is one file changed by one tool call, as far as the record tells
it: the path, the content before and after where the payload carries them, or else
the edit to replay on the content the view already knows (string replacements,
unified hunks, a Codex patch file). The shapes, measured with the real agents:

- Claude Code ``PostToolUse`` of ``Write`` (``tool_response.type`` ``create`` /
  ``update``, ``content``, ``originalFile``), ``Edit`` (``originalFile``,
  ``oldString``/``newString``, ``replaceAll``, ``structuredPatch``), ``MultiEdit``
  (``edits``, ``originalFileContents``) and ``NotebookEdit`` (``original_file`` /
  ``updated_file`` where the version sends them);
- Codex ``apply_patch``: the patch text is ``tool_input.command`` of ``PreToolUse``;
  whether it applied comes later (``PostToolUse``, the rollout's ``FileChange`` item):
  :func:`codex_patch` parses it, the view keeps it pending until then;
- Cursor ``afterFileEdit``: ``file_path`` and ``edits[]`` of old/new strings;
- Gemini CLI ``AfterTool`` of ``write_file`` / ``replace``: ``tool_input`` and the
  ``returnDisplay`` file diff (``originalContent``, ``newContent``), unless
  ``tool_response.error`` says it failed;
- OpenCode ``message.part.updated`` tool parts ``write`` / ``edit`` once
  ``completed``: ``state.input`` and the edit's ``metadata.filediff``
  (``before``/``after``).

Failed and refused calls are not changes: only success events are read.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import msgspec

from .identity import text
from .nested import DECODE_ERRORS
from .patchtext import PatchFile, parse_v4a

if TYPE_CHECKING:
    from .identity import Event

__all__ = [
    "CLAUDE_TOOLS",
    "UNKNOWN",
    "Mutation",
    "codex_patch",
    "hook_mutations",
    "opencode_mutations",
    "rollout_changes",
]

#: Marks a content the record does not tell.
UNKNOWN: object = object()
CLAUDE_TOOLS = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit"})
GEMINI_TOOLS = frozenset({"write_file", "replace"})


class Mutation:
    """One file changed by one call, as much as a record tells of it.

    ``before`` / ``after``: the content, None for "no file", or :data:`UNKNOWN`.
    ``edits`` (string replacements), ``hunks`` (unified) or ``patch`` (a Codex patch
    file) replay the change on a known ``before`` when ``after`` is unknown.
    """

    __slots__ = ("after", "before", "edits", "hunks", "origin", "patch", "path", "root", "tool")

    def __init__(self, path: str, root: str | None, tool: str | None) -> None:
        self.path = path
        self.root = root
        self.tool = tool
        self.before: object = UNKNOWN
        self.after: object = UNKNOWN
        self.edits: list[tuple[str, str, bool]] | None = None
        self.hunks: list[tuple[int, int, int, int, list[str]]] | None = None
        self.patch: PatchFile | None = None
        #: A Codex move's target: the path whose replayed content this file gets.
        self.origin: str | None = None


class _Hunk(msgspec.Struct, gc=False):
    oldStart: object = None
    oldLines: object = None
    newStart: object = None
    newLines: object = None
    lines: object = None


class _Edit(msgspec.Struct, gc=False):
    old_string: object = None
    new_string: object = None
    replace_all: object = None
    oldString: object = None
    newString: object = None
    replaceAll: object = None


class _Display(msgspec.Struct, gc=False):
    originalContent: object = UNKNOWN
    newContent: object = UNKNOWN
    isNewFile: object = None


class _Response(msgspec.Struct, gc=False):
    """``tool_response`` of an edit tool (Claude Code, Gemini)."""

    type: object = None
    filePath: object = None
    content: object = None
    originalFile: object = UNKNOWN
    originalFileContents: object = UNKNOWN
    oldString: object = None
    newString: object = None
    replaceAll: object = None
    structuredPatch: list[_Hunk] | None = None
    edits: list[_Edit] | None = None
    notebook_path: object = None
    original_file: object = UNKNOWN
    updated_file: object = UNKNOWN
    error: object = None
    returnDisplay: _Display | str | None = None


class _Input(msgspec.Struct, gc=False):
    """``tool_input`` of an edit tool."""

    file_path: object = None
    filePath: object = None
    path: object = None
    content: object = None
    old_string: object = None
    new_string: object = None
    replace_all: object = None
    command: object = None
    edits: list[_Edit] | None = None


class _EditHook(msgspec.Struct, gc=False):
    cwd: object = None
    workspace_roots: object = None
    file_path: object = None
    tool_input: _Input | None = None
    tool_response: _Response | str | list[object] | None = None
    edits: list[_Edit] | None = None


_HOOK = msgspec.json.Decoder(_EditHook).decode


def _hunks(found: list[_Hunk] | None) -> list[tuple[int, int, int, int, list[str]]] | None:
    if not found:
        return None
    out = []
    for h in found:
        lines = h.lines
        if type(lines) is not list or not all(type(x) is str for x in lines):
            return None
        nums = (h.oldStart, h.oldLines, h.newStart, h.newLines)
        if not all(type(n) is int for n in nums):
            return None
        out.append((int(h.oldStart), int(h.oldLines), int(h.newStart), int(h.newLines), lines))  # type: ignore[call-overload]
    return out


def _edits(found: list[_Edit] | None) -> list[tuple[str, str, bool]] | None:
    if not found:
        return None
    out = []
    for e in found:
        old = e.old_string if e.old_string is not None else e.oldString
        new = e.new_string if e.new_string is not None else e.newString
        every = e.replace_all if e.replace_all is not None else e.replaceAll
        if type(old) is not str or type(new) is not str:
            return None
        out.append((old, new, every is True))
    return out


def _content(value: object) -> object:
    """A content field: a string, None (no file) or UNKNOWN (absent, or not text)."""
    if value is None or type(value) is str:
        return value
    return UNKNOWN


def hook_mutations(ev: Event, tool: str | None) -> list[Mutation]:
    """The mutations of a Claude Code / Gemini ``PostToolUse``/``AfterTool`` or Cursor
    ``afterFileEdit`` record (``tool``: the hook's tool name)."""
    try:
        hook = _HOOK(ev.record.payload)
    except DECODE_ERRORS:
        return []
    cwd = text(hook.cwd)
    if ev.kind == "afterFileEdit":
        path = text(hook.file_path)
        edits = _edits(hook.edits)
        if path is None or edits is None:
            return []
        roots = hook.workspace_roots
        root = (
            next(
                (r for r in roots if type(r) is str and path.startswith(r.rstrip("/") + "/")),
                None,
            )
            if type(roots) is list
            else None
        )
        one = Mutation(path, root or cwd, "afterFileEdit")
        one.edits = edits
        return [one]
    response, given = hook.tool_response, hook.tool_input
    if type(response) is not _Response:
        return []
    if tool in GEMINI_TOOLS:
        return _gemini(tool, cwd, given, response)
    return _claude(tool, cwd, given, response)


def _claude(
    tool: str | None, cwd: str | None, given: _Input | None, r: _Response
) -> list[Mutation]:
    path = text(r.filePath) or text(r.notebook_path)
    if path is None and given is not None:
        path = text(given.file_path)
    if path is None:
        return []
    one = Mutation(path, cwd, tool)
    if tool == "Write":
        after = (
            r.content
            if type(r.content) is str
            else (given.content if given is not None and type(given.content) is str else UNKNOWN)
        )
        one.after = after
        one.before = None if r.type == "create" else _content(r.originalFile)
        return [one]
    if tool == "NotebookEdit":
        one.before, one.after = _content(r.original_file), _content(r.updated_file)
        return [one]
    original = r.originalFile if r.originalFile is not UNKNOWN else r.originalFileContents
    one.before = _content(original)
    if tool == "MultiEdit":
        one.edits = _edits(r.edits) or (_edits(given.edits) if given is not None else None)
    elif type(r.oldString) is str and type(r.newString) is str:
        one.edits = [(r.oldString, r.newString, r.replaceAll is True)]
    one.hunks = _hunks(r.structuredPatch)
    if one.before is None and not (one.edits and one.edits[0][0] == ""):
        one.before = UNKNOWN  # no original, yet not an Edit that creates its file
    return [one]


def _gemini(tool: str, cwd: str | None, given: _Input | None, r: _Response) -> list[Mutation]:
    if r.error not in (None, "", False) or given is None:
        return []
    path = text(given.file_path) or text(given.path)
    if path is None:
        return []
    one = Mutation(path, cwd, tool)
    display = r.returnDisplay
    if type(display) is _Display:
        one.before = _content(display.originalContent)
        one.after = _content(display.newContent)
        if display.isNewFile is True:
            one.before = None
    if one.after is UNKNOWN:
        if tool == "write_file" and type(given.content) is str:
            one.after = given.content
        elif type(given.old_string) is str and type(given.new_string) is str:
            one.edits = [(given.old_string, given.new_string, given.replace_all is True)]
    return [one]


def codex_patch(payload: bytes) -> tuple[str | None, list[Mutation]]:
    """The patch of a Codex ``PreToolUse`` of ``apply_patch``: (cwd, one mutation per file)."""
    try:
        hook = _HOOK(payload)
    except DECODE_ERRORS:
        return None, []
    given = hook.tool_input
    patch = given.command if given is not None else None
    files = parse_v4a(patch) if type(patch) is str else None
    cwd = text(hook.cwd)
    out = []
    for part in files or ():
        path = part.path
        if cwd is not None and not path.startswith("/"):
            path = f"{cwd.rstrip('/')}/{path}"
        one = Mutation(path, cwd, "apply_patch")
        one.patch = part
        if part.action == "add":
            one.before = None
        elif part.action == "delete":
            one.after = None
        out.append(one)
        if part.move_to is not None:
            # A move: the old path goes away, the new one gets the content.
            target = part.move_to
            if cwd is not None and not target.startswith("/"):
                target = f"{cwd.rstrip('/')}/{target}"
            moved = Mutation(target, cwd, "apply_patch")
            moved.before = None
            moved.origin = path
            one.after = None
            out.append(moved)
    return cwd, out


class _OcInput(msgspec.Struct, gc=False):
    filePath: object = None
    content: object = None
    oldString: object = None
    newString: object = None
    replaceAll: object = None


class _FileDiff(msgspec.Struct, gc=False):
    before: object = UNKNOWN
    after: object = UNKNOWN


class _OcMeta(msgspec.Struct, gc=False):
    filediff: _FileDiff | None = None
    exists: object = None


class _OcState(msgspec.Struct, gc=False):
    status: object = None
    input: _OcInput | None = None
    metadata: _OcMeta | None = None


_OC_STATE = msgspec.json.Decoder(_OcState).decode


def opencode_mutations(ev: Event) -> tuple[str | None, list[Mutation]]:
    """A completed OpenCode ``write``/``edit`` tool part: (call id, its mutation)."""
    part = ev.part()
    if part is None or part.type != "tool" or part.tool not in ("write", "edit"):
        return None, []
    if not part.state:
        return None, []
    try:
        state = _OC_STATE(part.state)
    except DECODE_ERRORS:
        return None, []
    given = state.input
    if state.status != "completed" or given is None:
        return None, []
    path = text(given.filePath)
    call = text(part.callID) or text(part.id)
    if path is None or call is None:
        return None, []
    one = Mutation(path, None, str(part.tool))
    meta = state.metadata
    diff = meta.filediff if meta is not None else None
    if diff is not None:
        one.before, one.after = _content(diff.before), _content(diff.after)
    if part.tool == "write":
        if type(given.content) is str:
            one.after = given.content
        if meta is not None and meta.exists is False:
            one.before = None
    elif one.after is UNKNOWN and type(given.oldString) is str and type(given.newString) is str:
        one.edits = [(given.oldString, given.newString, given.replaceAll is True)]
    return call, [one]


class _FileChange(msgspec.Struct, gc=False):
    type: object = None
    content: object = None
    unified_diff: object = None
    move_path: object = None


class _FileChangeItem(msgspec.Struct, gc=False):
    changes: dict[str, _FileChange] | None = None


_ITEM = msgspec.json.Decoder(_FileChangeItem).decode
_HUNK_HEAD = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _unified(diff: str) -> list[tuple[int, int, int, int, list[str]]] | None:
    """The hunks of a unified diff text (Codex's ``unified_diff``)."""
    out: list[tuple[int, int, int, int, list[str]]] = []
    for line in diff.split("\n"):
        head = _HUNK_HEAD.match(line)
        if head is not None:
            a, b, c, d = head.groups()
            out.append((int(a), int(b or 1), int(c), int(d or 1), []))
        elif out and line[:1] in (" ", "-", "+"):
            out[-1][4].append(line)
    return out or None


def rollout_changes(raw: msgspec.Raw) -> list[Mutation]:
    """The mutations of a Codex rollout ``FileChange`` item (``changes`` by path)."""
    try:
        item = _ITEM(raw)
    except DECODE_ERRORS:
        return []
    out = []
    for path, change in (item.changes or {}).items():
        one = Mutation(path, None, "apply_patch")
        if change.type == "add":
            one.before, one.after = None, _content(change.content)
        elif change.type == "delete":
            one.after = None
            if type(change.content) is str:
                one.before = change.content
        elif change.type == "update" and type(change.unified_diff) is str:
            one.hunks = _unified(change.unified_diff)
            target = text(change.move_path)
            if target is not None and target != path:
                one.after = None
                out.append(one)
                one = Mutation(target, None, "apply_patch")
                one.before = None
                one.origin = path
                one.hunks = out[-1].hunks
        else:
            continue
        out.append(one)
    return out
