"""``journal costs`` without click.

A warm ``journal costs --by day --json`` reads a few hundred keys; click and the
views engine would cost it ten times that in imports alone. :func:`main` answers the
plain invocations (``[--home DIR] costs`` with the command's own options): from
:func:`projections.costfast.warm_report` when the costs view is current and the
per-day sums answer, else through the views engine like the click command (only
click is saved then), printing exactly what the click command prints (the JSON
through :func:`encode_json`, msgspec's bytes without msgspec; the table through
:func:`journal.cli.costtable.render_costs`). It returns False for anything else:
options it does not know or whose values click would reject, ``--help``, any error.
The caller then runs the click CLI, which gives the error message and exit code the
command gives.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from projections.costgroups import Report

__all__ = ["encode_json", "main", "parse"]

_VALUES = ("--by", "--since", "--until", "--source", "--tz")
_FLAGS = ("--breakdown", "--json")


def parse(argv: list[str]) -> dict[str, Any] | None:
    """``[--home DIR] costs OPTIONS`` as keyword arguments, or None if it is not
    exactly an invocation that click would accept as such."""
    home = None
    if argv[:1] == ["--home"] and len(argv) >= 2:
        home, argv = argv[1], argv[2:]
    elif argv and argv[0].startswith("--home="):
        home, argv = argv[0][len("--home=") :], argv[1:]
    if argv[:1] != ["costs"] or home == "" or (home is not None and os.path.isfile(home)):
        return None
    found: dict[str, Any] = {"home": home, "by": "day", "breakdown": False, "json": False}
    args = argv[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if name in _VALUES:
            if not eq:
                if i + 1 >= len(args):
                    return None
                i += 1
                value = args[i]
            if value.startswith("-"):
                return None  # click may read it as an option: let it decide
            found[name[2:]] = value
        elif arg in _FLAGS:
            found[arg[2:]] = True
        else:
            return None  # --help, an unknown option, an argument, ``--``
        i += 1
    from .costtable import BY

    if found["by"] not in BY:
        return None
    return found


def _lock_timeout_valid() -> bool:
    """Whether ``AGENT_JOURNAL_LOCK_TIMEOUT`` is one the click path accepts
    (:func:`journal.cli.common.lock_timeout` refuses the rest)."""
    text = os.environ.get("AGENT_JOURNAL_LOCK_TIMEOUT", "")
    if not text:
        return True
    try:
        seconds = float(text)
    except ValueError:
        return False
    return seconds >= 0


def _float(value: float) -> str:
    """A float as msgspec writes it: the shortest repr, in exponent form below 1e-5 or
    from 1e16 on, with no ``+`` and no zero padding in the exponent."""
    text = repr(value)
    if "e" not in text:
        return text if text not in ("inf", "-inf", "nan") else "null"
    mantissa, _, exponent = text.partition("e")
    power = int(exponent)
    if power == -5:  # repr's exponent form starts at 1e-5, msgspec's below it
        sign = "-" if mantissa.startswith("-") else ""
        return sign + "0.0000" + mantissa.lstrip("-").replace(".", "")
    return f"{mantissa}e{power}"


def _encode(value: object, out: list[str], string: Any) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(string(value))
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be str, not {type(key).__name__}")
            if not first:
                out.append(",")
            first = False
            out.append(string(key))
            out.append(":")
            _encode(item, out, string)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out, string)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def encode_json(value: object) -> bytes:
    """``msgspec.json.encode(value)`` for the JSON types a report holds (dicts with
    str keys, lists, str, int, float, bool, None), byte for byte."""
    from _json import encode_basestring  # C; msgspec escapes strings the same way

    out: list[str] = []
    _encode(value, out, encode_basestring)
    return "".join(out).encode()


def _full(home: str | None, options: dict[str, Any]) -> Report:
    """The report through the views engine (catching the costs view up first), as the
    click command asks for it (:class:`journal.cli.common.Context`)."""
    from journal.store import LmdbJournal
    from journal.writelock import DEFAULT_TIMEOUT
    from projections.costqueries import costs

    text = os.environ.get("AGENT_JOURNAL_LOCK_TIMEOUT", "")
    journal = LmdbJournal(
        home, readonly=True, lock_timeout=float(text) if text else DEFAULT_TIMEOUT
    )
    try:
        return costs(journal, **options)
    finally:
        journal.close()


def main(argv: list[str]) -> bool:
    """Answer ``journal ARGV`` if it is a ``costs`` query it can parse; False if click
    must (another command, an option or value click would reject, any error)."""
    found = parse(argv)
    if found is None or not _lock_timeout_valid():
        return False
    from journal.errors import JournalError
    from projections.costfast import warm_report

    options = {
        "by": found["by"],
        "tz": found.get("tz"),
        "since": found.get("since"),
        "until": found.get("until"),
        "source": found.get("source"),
        "breakdown": found["breakdown"],
    }
    try:
        report = warm_report(found["home"], **options)
        if report is None:
            report = _full(found["home"], options)
    except JournalError:
        return False  # click says it, with the command's exit code
    if found["json"]:
        sys.stdout.buffer.write(encode_json(report.to_dict()) + b"\n")
        sys.stdout.flush()
        return True
    from .costtable import render_costs

    lines = render_costs(report)
    text = "".join(line + "\n" for line in lines)
    if "\x1b" in text:
        return False  # click.echo strips escape sequences when not on a terminal
    sys.stdout.write(text)
    sys.stdout.flush()
    return True
