"""Build a fresh virtualenv for each install shape, then run ``pip check`` and count the OpenCV distributions.

Shapes: ``pip install -r requirements.txt`` (the README's quick start), ``-r requirements-dev.txt`` plus the
audio_tags model (what ``scripts/install-and-test.sh`` and CI make), and a plugin from ``omni-detective plugin
new`` built as a wheel and installed beside requirements.txt, whose generated tests then run. Each takes minutes
(pip downloads or takes from its cache every wheel), so this prints a table rather than running in the test suite;
``tests/core/test_install_shape.py`` checks the same requirement graph from metadata. Usage:

    python scripts/check-install-shapes.py [requirements|dev|plugin ...]   # all three by default
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CV2_PROVIDERS = ("opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless")
PIP = ["-m", "pip", "--disable-pip-version-check"]


def _run(args: list[str], cwd: Path = ROOT, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def _shape(name: str, work: Path) -> dict[str, str]:
    venv = work / f"venv-{name}"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    steps: list[list[str]] = []
    if name == "requirements":
        steps.append([python, *PIP, "install", "-q", "-r", "requirements.txt"])
    elif name == "dev":
        steps.append([python, *PIP, "install", "-q", "-r", "requirements-dev.txt"])
        steps.append([python, "-m", "detective_audio_tags.model", "install", "--dest", str(work / "yamnet")])
    elif name == "plugin":
        src = work / "plugin-src"
        steps.append([python, *PIP, "install", "-q", "-r", "requirements.txt", "pytest"])
        steps.append([python, "-m", "detective", "plugin", "new", "Beat Counter", "--dir", str(src)])
        steps.append(
            [
                python,
                *PIP,
                "wheel",
                "-q",
                "--no-deps",
                "-w",
                str(work / "dist"),
                str(src / "omni-detective-beat-counter"),
            ]
        )
        steps.append(["sh", "-c", f"{python} -m pip install -q {work / 'dist'}/*.whl"])
        steps.append([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(src / "omni-detective-beat-counter")])
    else:
        raise SystemExit(f"unknown shape {name!r}")
    result = {"shape": name, "install": "ok", "pip check": "", "OpenCV dists": "", "tests": "", "seconds": ""}
    for step in steps:
        runs_tests = step[1:3] == ["-m", "pytest"]
        done = _run(step, cwd=work if runs_tests else ROOT)  # the plugin's tests run outside the repository
        if done.returncode != 0:
            result["install"] = f"failed: {' '.join(step[:5])}… {done.stderr.strip()[-300:] or done.stdout[-300:]}"
            break
        if runs_tests:
            result["tests"] = done.stdout.strip().splitlines()[-1]
    check = _run([python, *PIP, "check"])
    result["pip check"] = "clean" if check.returncode == 0 else check.stdout.strip().replace("\n", "; ")
    listed = _run([python, *PIP, "list", "--format=freeze"]).stdout.lower().splitlines()
    cv2 = [line.split("==")[0] for line in listed if line.split("==")[0] in CV2_PROVIDERS]
    result["OpenCV dists"] = f"{len(cv2)} ({', '.join(cv2)})"
    result["seconds"] = f"{time.monotonic() - started:.0f}"
    return result


def main() -> int:
    """Build each shape asked for and print one table row per shape."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shapes", nargs="*", default=["requirements", "dev", "plugin"])
    parser.add_argument("--keep", help="build the venvs in this folder and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="omni-shapes-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        rows = [_shape(name, work) for name in args.shapes]
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(row[c] for c in columns) + " |")
    return 0 if all(r["install"] == "ok" and r["pip check"] == "clean" and r["OpenCV dists"].startswith("1 ")
                    for r in rows) else 1  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
