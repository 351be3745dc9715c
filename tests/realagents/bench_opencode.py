"""What the journal's plugin costs a real ``opencode run``: a benchmark, not a test.

Runs the pinned OpenCode against the mock Chat Completions API, ``--calls`` shell
calls per run, ``--runs`` times without the plugin and with it, alternating (so both
series see the same machine load), and prints the medians of wall time and of
OpenCode's own CPU time (steadier on a busy machine), their ratios and, for the runs
with the plugin, the journalled events, whether they are in OpenCode's order and
what is left in the spool::

    .venv/bin/python -m tests.realagents.bench_opencode --runs 5 --calls 15
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import tempfile

from tests.realagents import npm_cache
from tests.realagents.harness_opencode import in_opencode_order, run_opencode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=15)
    args = parser.parse_args()
    opencode = npm_cache.install(npm_cache.OPENCODE)
    commands = [f"echo step-{i}" for i in range(args.calls)]
    seconds: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="bench-opencode-") as tmp:
        for i in range(args.runs):
            for plugin in (False, True):
                root = pathlib.Path(tmp) / f"{i}-{'plugin' if plugin else 'bare'}"
                root.mkdir()
                run = run_opencode(
                    opencode, npm_cache.OPENCODE.version, root, commands, plugin=plugin
                )
                assert run.returncode == 0, run.describe()
                seconds[plugin].append(run.seconds)
                cpu[plugin].append(run.cpu_seconds)
                line = (
                    f"run {i + 1} {'plugin' if plugin else 'bare  '} {run.seconds:6.2f} s"
                    f" (OpenCode cpu {run.cpu_seconds:5.2f} s)"
                )
                if plugin:
                    ids = [r["payload"]["id"] for r in run.log()]
                    spooled = run.journal("stats", "--json")["spooled"]
                    line += (
                        f"  events {len(ids)} unique {len(set(ids))}"
                        f" in OpenCode's order {in_opencode_order(run)}"
                        f" ids ascending {ids == sorted(ids)} spooled {spooled}"
                    )
                print(line, flush=True)
    bare, with_plugin = statistics.median(seconds[False]), statistics.median(seconds[True])
    print(f"median without the plugin {bare:.2f} s, with it {with_plugin:.2f} s")
    print(f"ratio {with_plugin / bare:.3f}")
    bare_cpu, plugin_cpu = statistics.median(cpu[False]), statistics.median(cpu[True])
    print(f"median OpenCode cpu without {bare_cpu:.2f} s, with {plugin_cpu:.2f} s")
    print(f"cpu ratio {plugin_cpu / bare_cpu:.3f}")


if __name__ == "__main__":
    main()
