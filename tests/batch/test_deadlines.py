"""The ``od_hang`` plugin tool that never returns, and a deadline in ``caption`` on it.

Its use by ``run`` on every executor (Ctrl-C, then a resumed run that gives the hung clip one timeout) is in
``test_executor_contract.py``, which takes the fixture and helpers of this module.

The plugin is installed the way pip would (a module and its ``.dist-info`` with the entry point) in a private
site directory handed to the command's process through ``PYTHONPATH``. Its synchronous ``observe`` sleeps an hour
on clips whose file name has ``hang`` in it, as a model stuck in a C library would, and answers the others after
``OD_SLOW`` seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from detective.media import wav_bytes

PLUGIN = '''
"""A plugin tool that never answers on clips named *hang* (unless OD_NO_HANG is set)."""

import os
import time

import detective


class Hang(detective.Tool):
    """Reports a steady tone after OD_SLOW seconds; sleeps an hour on clips whose name has "hang" in it."""

    name = "od_hang"
    description = "Listens to the clip."
    modalities = ("audio",)
    covers = ("sound",)
    version = "1"

    def observe(self, media, query):
        if "hang" in os.path.basename(media.source) and not os.environ.get("OD_NO_HANG"):
            time.sleep(3600)
        time.sleep(float(os.environ.get("OD_SLOW", "0")))
        span = detective.TimeSpan(start=0, end=media.duration)
        return [detective.Observation(tool=self.name, kind="sound_event", content="a steady tone", span=span)]


@detective.hookimpl
def register_tools(register):
    register(Hang())
'''


#: Options of each executor: two worker processes, or two Ray actors of a Ray the command starts (on loopback).
EXECUTOR_ARGS = {"local": [], "processes": ["--processes", "2"], "ray": ["--ray-actors", "2", "--ray-actor-cpus", "0"]}
#: Seconds the command may take to start on a loaded 2-core machine: Python and the plugins (about 10 s here under
#: load), plus a Ray of its own for ``ray`` (another 20-30 s).
START_SECONDS = {"local": 15, "processes": 15, "ray": 45}


@pytest.fixture(scope="module")
def hang_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory holding the ``od_hang`` plugin distribution as pip installs it."""
    site = tmp_path_factory.mktemp("hang_site")
    (site / "od_hang_plugin.py").write_text(PLUGIN, encoding="utf-8")
    info = site / "od_hang_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: od-hang-plugin\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[omni_detective]\nod_hang = od_hang_plugin\n", encoding="utf-8")
    return site


def _clips(folder: Path, names: list[str]) -> Path:
    """Half-second tones named ``names`` and a manifest of them (``{"id", "path"}``)."""
    folder.mkdir(exist_ok=True)
    t = np.arange(8000) / 16000.0
    lines = []
    for i, name in enumerate(names):
        (folder / f"{name}.wav").write_bytes(wav_bytes(0.3 * np.sin(2 * np.pi * (220.0 + 20.0 * i) * t)))
        lines.append(json.dumps({"id": name, "path": str(folder / f"{name}.wav")}) + "\n")
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(lines), encoding="utf-8")
    return manifest


def _env(site: Path, marker: str, **extra: str) -> dict[str, str]:
    """The command's environment: the plugin on the path, offline, and a marker to find its processes by."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OMNI_DETECTIVE_"))}
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)  # added, not replaced
    env.update(PYTHONPATH=path, PYTHONUNBUFFERED="1", OD_DEADLINE_MARKER=marker, **extra)
    return env


def _marked(marker: str) -> list[int]:
    """Live processes (zombies excluded) whose environment carries ``marker``: the command and its workers."""
    found = []
    needle = f"OD_DEADLINE_MARKER={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in {"Z", "X"}:
            found.append(int(entry.name))
    return found


def _wait_gone(marker: str, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := _marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _run_args(manifest: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "detective", "run", "--input", str(manifest), "--output", str(out),
        "--offline", "--tools", "od_hang", "--planner", "rule", "--captioner", "template", "--no-cache", *extra,
    ]  # fmt: skip


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] if out.exists() else []


def test_caption_gives_up_on_a_hung_tool_and_exits(hang_site: Path, tmp_path: Path) -> None:
    _clips(tmp_path, ["hang"])
    marker = uuid.uuid4().hex
    args = [sys.executable, "-m", "detective", "caption", str(tmp_path / "hang.wav"), "--offline", "--tools", "od_hang"]
    done = subprocess.run(
        [*args, "--planner", "rule", "--captioner", "template", "--observer-timeout", "0.5"],
        env=_env(hang_site, marker),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "od_hang on " in done.stderr and "hang.wav: no answer within 0.5 s" in done.stderr
    assert _wait_gone(marker, 5) == []
