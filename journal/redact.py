"""Mask known secrets in a payload before it is digested and stored (DESIGN §7).

:func:`redact` replaces each secret it recognises by a typed marker such as
``[REDACTED:aws-access-key]``. It runs inside :mod:`journal.payload`, the one place
stored bytes are made, so every ingest path (hook, ``journal append``, batches,
transcript capture, import, spool drain) stores the same bytes for the same input,
and the digest covers the masked bytes: the hook's idempotency and the spool's
exactly-once are unchanged.

**What is masked** (:data:`RULES`, one test each in ``tests/journal/test_redact.py``):
AWS access key ids and secret keys in assignments, Anthropic, OpenAI, Google, GitHub,
GitLab, Slack and Stripe keys in their documented shapes, private key blocks, JWTs,
passwords in URLs (``scheme://user:PASSWORD@host``), ``Authorization:`` header
values, and ``password=``/``secret=``/``token=``/``*_key=`` assignments (``.env``
files, shell exports, query strings). Contextual rules mask only the value and keep
the name (``DB_PASSWORD=[REDACTED:secret-assignment]``).

**JSON stays JSON.** A payload is JSON text and the secrets sit inside its strings.
No pattern matches a ``"`` or a backslash except as a whole escape pair (``\\n``
inside a private key block), so a match never ends inside an escape or crosses a
string boundary, and a marker is plain ASCII: the result parses whenever the input
did, and every byte outside a match is left as it was. Secrets written with JSON
``\\u`` escapes, split across strings, or in shapes no rule knows are not masked.

**Why not a maintained rule source.** ``detect-secrets`` (Yelp), ``credsweeper``
and ``ggshield`` were considered. They are scanners for files and repositories:
detect-secrets imports ~40 plugin modules and runs each plugin line by line
(tens of milliseconds to import before the first payload), credsweeper brings ML
models, ggshield calls a remote API. The hook is a new process per event with a
budget of a few milliseconds over a bare interpreter, so the rules are kept here,
in the spirit of gitleaks' curated list, with the providers' documented formats.

**Cost.** Importing :mod:`re` and compiling costs ~10 ms, more than the hook's
whole margin, so a payload is first checked for each rule's literal triggers
(``b"AKIA" in data`` and the like, a few microseconds for a 5 KB event); only the
rules whose trigger occurs are compiled and run. Most hook events trigger none.

**User rules.** A JSON Lines file adds patterns: ``$AGENT_JOURNAL_REDACT_RULES``,
else ``$XDG_CONFIG_HOME/agent-journal/redact.jsonl``, else
``~/.config/agent-journal/redact.jsonl``. It lives with the user's configuration,
not in a journal home, so every process of the user masks alike whatever home it
writes to. One object per line::

    {"name": "acme-token", "pattern": "acme_[A-Za-z0-9]{32}", "triggers": ["acme_"]}

``name`` is lowercase letters, digits and ``-``; ``pattern`` a Python regular
expression over the payload's bytes (ASCII); if it has a group named ``s`` only
that group is masked; ``triggers`` are literal strings of which one must occur for
the pattern to run (without any, it runs on every payload); ``"ignore_case": true``
matches triggers and pattern without regard to case. A line that does not parse or
compile is skipped. ``AGENT_JOURNAL_REDACT=0`` turns masking off.

Stdlib only, and nothing imported until a trigger occurs: the hook path uses it.
"""

from __future__ import annotations

import os

# typing costs ~3 ms to import; this module is on the hook path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable

__all__ = ["MARKER", "RULES", "Rule", "count", "enabled", "names", "redact", "rules_path"]

#: What every marker starts with: ``[REDACTED:<rule name>]``.
MARKER = b"[REDACTED:"

# A value that is not already a marker, a variable or a template.
_VALUE = rb"(?!\[REDACTED:)[^\s\"'\\,;$<{%`]"
_QUOTE = rb"(?:\\?[\"'])?"
_ALNUM = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_ESCAPES = frozenset(b"nrtbf")


def _token_start(data: bytes, at: int) -> bool:
    """Whether a token starts at ``at``: not right after a letter or digit, except
    after a JSON escape such as ``\n`` (lines of a ``.env`` inside a JSON string)."""
    if at == 0 or data[at - 1] not in _ALNUM:
        return True
    return at >= 2 and data[at - 2] == 0x5C and data[at - 1] in _ESCAPES


class Rule:
    """One kind of secret: its marker name, its pattern and where a match may start.

    A match is looked for only where one of ``starts`` occurs (in the lowercased
    payload when ``fold``), and must begin right there: a few ``find`` calls decide
    whether the pattern runs at all, and :mod:`re` is imported and the pattern
    compiled only when one occurs. ``gate``, if given, must also occur somewhere
    first (for starts as common as ``sk-``). With ``boundary`` a match must start a
    token; ``check(haystack, at)`` can refuse a start. A pattern with a group named
    ``s`` masks only that group. Without ``starts`` (user rules without triggers)
    the pattern is searched everywhere.
    """

    __slots__ = (
        "_compiled",
        "boundary",
        "check",
        "fold",
        "gate",
        "marker",
        "name",
        "pattern",
        "starts",
    )

    def __init__(
        self,
        name: str,
        pattern: bytes,
        starts: tuple[bytes, ...],
        *,
        fold: bool = False,
        boundary: bool = False,
        gate: tuple[bytes, ...] = (),
        check: Callable[[bytes, int], bool] | None = None,
    ) -> None:
        self.name = name
        self.pattern = pattern
        self.starts = starts
        self.fold = fold
        self.boundary = boundary
        self.gate = gate
        self.check = check
        self.marker = MARKER + name.encode() + b"]"
        self._compiled: re.Pattern[bytes] | None = None

    def compiled(self) -> re.Pattern[bytes]:
        """The pattern, compiled on first use (importing :mod:`re` then)."""
        if self._compiled is None:
            import re

            self._compiled = re.compile(self.pattern)
        return self._compiled

    def occurs(self, data: bytes, haystack: bytes) -> bool:
        """Whether a match could start anywhere in ``data`` (cheap checks only).

        ``haystack`` is ``data`` or, for a ``fold`` rule, ``data.lower()``.
        """
        if self.gate and not any(g in haystack for g in self.gate):
            return False
        if not self.starts:
            return True
        for literal in self.starts:
            i = haystack.find(literal)
            while i >= 0:
                if (not self.boundary or _token_start(data, i)) and (
                    self.check is None or self.check(haystack, i)
                ):
                    return True
                i = haystack.find(literal, i + 1)
        return False

    def apply(self, data: bytes, haystack: bytes) -> bytes:
        """Return ``data`` with every match masked (the same object if none).

        ``haystack`` is ``data`` or, for a ``fold`` rule, ``data.lower()``.
        """
        if self.gate and not any(g in haystack for g in self.gate):
            return data
        if not self.starts:
            return self._search(data)
        at: set[int] = set()
        for literal in self.starts:
            i = haystack.find(literal)
            while i >= 0:
                at.add(i)
                i = haystack.find(literal, i + 1)
        if not at:
            return data
        match = None  # compiled only once a start passes the cheap checks
        pieces: list[bytes] = []
        last = 0
        for i in sorted(at):
            if i < last:
                continue
            if self.boundary and not _token_start(data, i):
                continue
            if self.check is not None and not self.check(haystack, i):
                continue
            if match is None:
                match = self.compiled().match
            found = match(data, i)
            if found is None:
                continue
            span = found.span("s") if "s" in found.re.groupindex else found.span()
            if span[0] < 0:
                continue
            pieces += (data[last : span[0]], self.marker)
            last = span[1]
        if not pieces:
            return data
        pieces.append(data[last:])
        return b"".join(pieces)

    def _search(self, data: bytes) -> bytes:
        pattern = self.compiled()
        if "s" not in pattern.groupindex:
            masked = pattern.sub(self.marker, data)
        else:
            pieces: list[bytes] = []
            last = 0
            for found in pattern.finditer(data):
                start, end = found.span("s")
                if start >= 0:
                    pieces += (data[last:start], self.marker)
                    last = end
            masked = b"".join([*pieces, data[last:]]) if pieces else data
        return data if masked == data else masked


def _after_key_prefix(haystack: bytes, at: int) -> bool:
    """A ``key=`` of the assignment rule counts after api/secret/access/private only."""
    before = haystack[max(0, at - 8) : at].rstrip(b"_-")
    return before.endswith((b"api", b"secret", b"access", b"private"))


def _assignment_at(haystack: bytes, at: int) -> bool:
    """Whether the ``=`` at ``at`` (lowercased) follows an assignment keyword."""
    name = haystack[max(0, at - 24) : at].rstrip(b" \t")
    if name.endswith(b"key"):
        return _after_key_prefix(name, len(name) - 3)
    return name.endswith((b"password", b"passwd", b"secret", b"token"))


def _github_at(haystack: bytes, at: int) -> bool:
    """``gh`` followed by one of p/o/u/s/r and ``_``, or ``github_pat_``."""
    return (haystack[at + 3 : at + 4] == b"_" and haystack[at + 2] in b"pousr") or (
        haystack.startswith(b"github_pat_", at)
    )


def _jwt_at(haystack: bytes, at: int) -> bool:
    """A JWT's header is followed, soon, by ``.eyJ`` (its payload)."""
    return haystack.find(b".eyJ", at + 13, at + 4096) > 0


def _openai_at(haystack: bytes, at: int) -> bool:
    """``sk-proj-`` and its kin, or a legacy key (``T3BlbkFJ`` at its middle)."""
    return haystack.startswith((b"sk-proj-", b"sk-svcacct-", b"sk-admin-"), at) or (
        haystack[at + 23 : at + 31] == b"T3BlbkFJ"
    )


#: The built-in rules, applied in this order: provider formats first, then the
#: contextual rules, which leave a value that is already a marker alone.
RULES: tuple[Rule, ...] = (
    Rule(
        "private-key",
        rb"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        rb"(?:(?:[^\"\\]|\\.)*?-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        rb"|(?:[^\"\\]|\\.)*)",
        (),
        gate=(b"PRIVATE KEY",),
    ),
    Rule(
        "jwt",
        rb"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*(?![A-Za-z0-9_-])",
        (b"eyJ",),
        boundary=True,
        check=_jwt_at,
    ),
    Rule(
        "anthropic-api-key",
        rb"sk-ant-[a-z0-9]{2,12}-[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])",
        (b"sk-ant-",),
        boundary=True,
    ),
    Rule(
        "openai-api-key",
        rb"sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}"
        rb"|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})(?![A-Za-z0-9_-])",
        (b"sk-",),
        boundary=True,
        check=_openai_at,
    ),
    Rule(
        "aws-access-key",
        rb"(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])",
        (b"AKIA", b"ASIA"),
        boundary=True,
    ),
    Rule(
        "aws-secret-key",
        rb"(?i:aws_?secret_?access_?key|aws_?secret_?key|secret_?access_?key)"
        + _QUOTE
        + rb"\s*[:=]\s*"
        + _QUOTE
        + rb"(?P<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        (b"aws_secret", b"awssecret", b"secret_access_key", b"secretaccesskey"),
        fold=True,
        gate=(b"secret",),
    ),
    Rule(
        "google-api-key",
        rb"AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])",
        (b"AIza",),
        boundary=True,
    ),
    Rule(
        "github-token",
        rb"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})(?![A-Za-z0-9_])",
        (b"gh",),
        boundary=True,
        check=_github_at,
    ),
    Rule(
        "gitlab-token",
        rb"glpat-[A-Za-z0-9_.-]{20,}(?![A-Za-z0-9_-])",
        (b"glpat-",),
        boundary=True,
    ),
    Rule(
        "slack-token",
        rb"xox[abprs]-[A-Za-z0-9-]{10,}(?![A-Za-z0-9-])",
        (b"xox",),
        boundary=True,
    ),
    Rule(
        "stripe-key",
        rb"[sr]k_(?:live|test)_[A-Za-z0-9]{20,}(?![A-Za-z0-9])",
        (b"sk_live_", b"rk_live_", b"sk_test_", b"rk_test_"),
        boundary=True,
        gate=(b"k_live_", b"k_test_"),
    ),
    Rule(
        "url-password",
        rb"://[^\s/?#@:\"'\\]*:(?P<s>" + _VALUE + rb"[^\s/?#@\"'\\]*)@",
        (b"://",),
    ),
    Rule(
        "authorization-header",
        rb"(?i:authorization|x-api-key|x-auth-token)"
        + _QUOTE
        + rb"\s*[:=]\s*"
        + _QUOTE
        + rb"(?:(?i:bearer|basic|token|digest)\s+)?(?P<s>"
        + _VALUE
        + rb"[^\s\"'\\,;]{7,})",
        (b"authorization", b"x-api-key", b"x-auth-token"),
        fold=True,
        gate=(b"authoriz", b"x-a"),
    ),
    Rule(
        "secret-assignment",
        rb"=[ \t]*" + _QUOTE + rb"(?P<s>"
        rb"(?!(?i:none|null|nil|true|false|undefined)\b)"
        rb"(?![A-Za-z_][A-Za-z0-9_.]*[(\[])" + _VALUE + rb"[^\s\"'\\&]{3,})",
        (b"=",),
        fold=True,
        check=_assignment_at,
    ),
)

_ENV = "AGENT_JOURNAL_REDACT"
_user_rules: tuple[Rule, ...] | None = None


def enabled() -> bool:
    """Whether masking is on (``AGENT_JOURNAL_REDACT=0`` turns it off)."""
    return os.environ.get(_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def rules_path() -> str:
    """Where the user's rules file is looked for (see the module docstring)."""
    given = os.environ.get("AGENT_JOURNAL_REDACT_RULES")
    if given:
        return os.path.expanduser(given)
    config = os.environ.get("XDG_CONFIG_HOME")
    if not (config and os.path.isabs(config)):
        config = os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(config, "agent-journal", "redact.jsonl")


def _valid_name(name: object) -> bool:
    return (
        isinstance(name, str)
        and 0 < len(name) <= 64
        and all(c.isascii() and (c.islower() or c.isdigit() or c == "-") for c in name)
    )


def load_rules(path: str) -> tuple[Rule, ...]:
    """Read a user rules file; lines that do not parse or compile are skipped."""
    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except OSError:
        return ()
    import json
    import re

    out: list[Rule] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(b"#"):
            continue
        try:
            spec = json.loads(line)
            name, pattern = spec["name"], spec["pattern"]
            fold = bool(spec.get("ignore_case", False))
            triggers = tuple(str(t).encode() for t in spec.get("triggers", ()))
            if not (_valid_name(name) and isinstance(pattern, str)):
                continue
            raw = pattern.encode()
            if fold:
                raw = b"(?i:" + raw + b")"
                triggers = tuple(t.lower() for t in triggers)
            rule = Rule(name, raw, (), fold=fold, gate=triggers)
            rule.compiled()
        except (ValueError, KeyError, TypeError, AttributeError, re.error):
            continue
        out.append(rule)
    return tuple(out)


def _rules() -> tuple[Rule, ...]:
    global _user_rules
    if _user_rules is None:
        path = rules_path()
        _user_rules = load_rules(path) if os.path.exists(path) else ()
    return RULES + _user_rules if _user_rules else RULES


def reset() -> None:
    """Forget the user rules read so far (they are read again on next use)."""
    global _user_rules
    _user_rules = None


def present(joined: bytes) -> tuple[Rule, ...]:
    """The rules that may match somewhere in ``joined`` (many payloads at once).

    A batch checks its whole text once, then each payload only for these rules.
    """
    if not enabled():
        return ()
    low = joined.lower()
    return tuple(r for r in _rules() if r.occurs(joined, low if r.fold else joined))


def redact(data: bytes, rules: tuple[Rule, ...] | None = None) -> bytes:
    """Return ``data`` with known secrets masked; the same object when none is found.

    ``rules`` limits the work to rules :func:`present` found in a batch's text.
    """
    if rules is None:
        if not enabled():
            return data
        rules = _rules()
    out, low = data, b""
    for rule in rules:
        if rule.fold:
            if not low:
                low = out.lower()
            masked = rule.apply(out, low)
        else:
            masked = rule.apply(out, out)
        if masked is not out:
            out, low = masked, b""
    return data if out == data else out


def names() -> tuple[str, ...]:
    """The names of the rules in use (built-in, then the user's)."""
    return tuple(rule.name for rule in _rules())


def count(stored: bytes, into: dict[bytes, int]) -> None:
    """Add the markers in ``stored`` to ``into``, by rule name (bytes).

    The stored bytes are the record of what was masked: counting them is the same
    on every path, including records made in a forked worker.
    """
    find = stored.find
    at = find(MARKER)
    while at >= 0:
        start = at + len(MARKER)
        end = find(b"]", start, start + 65)
        if end < 0:
            at = find(MARKER, start)
            continue
        name = stored[start:end]
        if name and all(48 <= c <= 57 or 97 <= c <= 122 or c == 45 for c in name):
            into[name] = into.get(name, 0) + 1
        at = find(MARKER, end)
