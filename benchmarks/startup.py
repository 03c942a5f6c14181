"""Start-up cost of the command line: wall and CPU time of short commands, and the heavy modules they import.

    python benchmarks/startup.py [--runs 5] [COMMAND ...]

Each command (default: ``--help``, ``plugins``, ``config``) runs ``--runs`` times in a fresh interpreter; the table
gives the median wall time, the median CPU time (user + system of the child) and whether ``openai``,
``langgraph``, ``numpy`` or ``scipy`` were imported. On a shared machine the wall time varies with the load;
the CPU time less so.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

HEAVY = ("openai", "langgraph", "langchain_core", "httpx", "numpy", "scipy", "av")

#: Runs the CLI in-process, then prints which heavy top-level packages ended up imported (exit codes ignored).
PROBE = """
import json, sys
from detective.cli.app import main
sys.argv = ["omni-detective", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("\\n" + json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(HEAVY)))), file=sys.stderr)
"""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(args: list[str], runs: int) -> dict[str, object]:
    """Median wall and CPU seconds of ``omni-detective ARGS`` over ``runs`` fresh interpreters."""
    walls: list[float] = []
    cpus: list[float] = []
    imported: list[str] = []
    for _ in range(runs):
        cpu0, wall0 = _cpu(), time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", PROBE.replace("HEAVY", repr(json.dumps(HEAVY))), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        walls.append(time.perf_counter() - wall0)
        cpus.append(_cpu() - cpu0)
        imported = json.loads(proc.stderr.strip().splitlines()[-1])
    return {
        "command": " ".join(args),
        "wall_s": round(statistics.median(walls), 3),
        "cpu_s": round(statistics.median(cpus), 3),
        "heavy_imports": imported,
    }


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a Markdown table")
    parser.add_argument("command", nargs="*", help="one command line per argument, e.g. 'plugins' or '--help'")
    ns = parser.parse_args()
    commands = [c.split() for c in ns.command] or [["--help"], ["plugins"], ["config"]]
    rows = [measure(c, ns.runs) for c in commands]
    if ns.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"| command | wall (median of {ns.runs}) | CPU (median) | heavy modules imported |")
    print("|---|---|---|---|")
    for r in rows:
        heavy = ", ".join(r["heavy_imports"]) or "none"  # type: ignore[arg-type]
        print(f"| `omni-detective {r['command']}` | {r['wall_s']} s | {r['cpu_s']} s | {heavy} |")


if __name__ == "__main__":
    main()
