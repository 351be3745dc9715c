"""The agent process behind a hook, and whether that exact process is still alive.

An agent runs each hook as a child process, usually through a shell (Claude Code,
Codex and Gemini CLI run ``/bin/sh -c COMMAND``; OpenCode's plugin spawns the hook
directly; the npm launchers of ``claude`` and ``codex`` are node scripts that start a
native binary and wait for it). The agent is the nearest ancestor of the hook that
is not a shell or a wrapper (:data:`WRAPPERS`): the long-lived process whose death
ends the session.

A process is named by three numbers that survive pid reuse: its pid, its start time
in clock ticks after boot (field 22 of ``/proc/PID/stat``, fixed for the life of the
process) and the boot it belongs to (``/proc/sys/kernel/random/boot_id``, 16 bytes).
A later query compares them with the process table (:func:`alive`): the same pid
with another start time, or another boot, is another process.

Linux only (``/proc``); elsewhere :func:`agent` returns None and :func:`alive` None,
and the views fall back to the idle time. Stdlib only and a few reads of small
``/proc`` files (~0.05 ms): the hook path uses it.
"""

from __future__ import annotations

import os

__all__ = ["REAPERS", "WRAPPERS", "AgentProcess", "agent", "alive", "boot_id", "stat"]

#: Process names (``comm``, at most 15 characters) that run a command for someone
#: else: shells and wrappers, never the agent itself. ``node`` is not one of them:
#: Gemini CLI *is* a node process.
WRAPPERS = frozenset(
    {
        "sh",
        "bash",
        "dash",
        "zsh",
        "fish",
        "ksh",
        "mksh",
        "ash",
        "busybox",
        "tcsh",
        "csh",
        "env",
        "timeout",
        "nice",
        "nohup",
        "setsid",
        "stdbuf",
        "time",
        "ionice",
        "chrt",
        "taskset",
        "flock",
        "xargs",
        "sudo",
        "doas",
        "uv",
    }
)
#: Processes that adopt orphans: a hook whose agent already exited (``SessionEnd``
#: fires as the agent quits) is reparented to one of these, which is no agent.
REAPERS = frozenset({"systemd", "init", "tini", "dumb-init", "docker-init", "s6-svscan", "runit"})
#: Ancestors looked at before giving up (a hook is rarely more than two wrappers deep).
MAX_DEPTH = 8

#: ``(pid, start time in clock ticks after boot, boot id)``.
AgentProcess = tuple[int, int, bytes]

_BOOT_ID = "/proc/sys/kernel/random/boot_id"


def stat(pid: int) -> tuple[str, str, int, int] | None:
    """``(comm, state, ppid, start ticks)`` of ``pid`` from ``/proc/PID/stat``, or None."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    # comm is in parentheses and may itself contain spaces and parentheses.
    open_at, close_at = data.find(b"("), data.rfind(b")")
    if open_at < 0 or close_at < open_at:
        return None
    fields = data[close_at + 2 :].split()
    try:
        return (
            data[open_at + 1 : close_at].decode("utf-8", "replace"),
            fields[0].decode("ascii", "replace"),
            int(fields[1]),
            int(fields[19]),
        )
    except (IndexError, ValueError):
        return None


def boot_id() -> bytes | None:
    """The 16 bytes of this boot's id, or None where the kernel does not say."""
    try:
        fd = os.open(_BOOT_ID, os.O_RDONLY)
    except OSError:
        return None
    try:
        text = os.read(fd, 64)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        raw = bytes.fromhex(text.strip().replace(b"-", b"").decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    return raw if len(raw) == 16 else None


def agent(pid: int | None = None) -> AgentProcess | None:
    """The agent of this hook: the nearest ancestor of ``pid`` (default: this process's
    parent, ``pid`` itself otherwise) that is not a shell or wrapper; None when it
    cannot be told (no ``/proc``), or the chain reaches init or another reaper (the
    hook was orphaned: its agent is gone already)."""
    current = os.getppid() if pid is None else pid
    for _ in range(MAX_DEPTH):
        if current <= 1:
            return None
        found = stat(current)
        if found is None:
            return None
        comm, _state, ppid, start = found
        if comm in REAPERS:
            return None
        if comm not in WRAPPERS:
            boot = boot_id()
            return None if boot is None else (current, start, boot)
        current = ppid
    return None


def alive(pid: int, start: int, boot: bytes | str) -> bool | None:
    """Whether the process ``(pid, start, boot)`` is still running.

    ``boot`` is the boot id as 16 bytes or as text (``Record.agent_boot``). False
    when the process is gone: no such pid, the pid now names a process that started
    at another time (reused), a zombie (killed, not yet reaped), or another boot.
    None when this system cannot tell (no ``/proc``).
    """
    now_boot = boot_id()
    if now_boot is None:
        return None
    if isinstance(boot, str):
        try:
            boot = bytes.fromhex(boot.replace("-", ""))
        except ValueError:
            return None
    if boot != now_boot:
        return False
    found = stat(pid)
    if found is None:
        return False if os.path.isdir("/proc/self") else None
    _comm, state, _ppid, started = found
    return started == start and state not in ("Z", "X", "x")
