"""Deadlines in ``run`` and ``caption`` with a plugin tool that never returns, and Ctrl-C in ``run``.

The plugin is installed the way pip would (a module and its ``.dist-info`` with the entry point) in a private
site directory handed to the command's process through ``PYTHONPATH``. Its synchronous ``observe`` sleeps an hour
on clips whose file name has ``hang`` in it, as a model stuck in a C library would, and answers the others after
``OD_SLOW`` seconds.
"""

from __future__ import annotations

import json
import os
import signal
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


@pytest.fixture(autouse=True)
def _needs_ray(request: pytest.FixtureRequest) -> None:
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("executor") == "ray":
        pytest.importorskip("ray")


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
    env.update(PYTHONPATH=str(site), PYTHONUNBUFFERED="1", OD_DEADLINE_MARKER=marker, **extra)
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


@pytest.mark.parametrize("executor", ["local", "processes", "ray"])
def test_a_tool_that_never_returns_costs_its_clip_one_timeout(hang_site: Path, tmp_path: Path, executor: str) -> None:
    manifest = _clips(tmp_path / "clips", ["first", "hang", "last"])
    out = tmp_path / "out.jsonl"
    marker = uuid.uuid4().hex
    extra = ["--executor", executor, *EXECUTOR_ARGS[executor]]
    limit = START_SECONDS[executor] + 30
    started = time.monotonic()
    done = subprocess.run(
        _run_args(manifest, out, "--observer-timeout", "1", *extra),
        env=_env(hang_site, marker),
        capture_output=True,
        text=True,
        timeout=limit + 30,
    )
    seconds = time.monotonic() - started
    assert done.returncode == 1, done.stderr[-3000:]  # documented: 1 when a clip failed
    assert seconds < limit, f"took {seconds:.1f} s"
    assert sorted(r["id"] for r in _records(out)) == ["first", "last"]
    assert all(r["caption"].startswith("## Storyline") for r in _records(out))
    errors = _records(tmp_path / "out.errors.jsonl")
    assert [e["id"] for e in errors] == ["hang"]
    assert "od_hang on " in errors[0]["error"] and "hang.wav: no answer within 1 s" in errors[0]["error"]
    # the hung thread held up neither the exit of the command nor that of its worker processes
    assert _wait_gone(marker, 5) == []


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


@pytest.mark.parametrize("executor", ["local", "processes", "ray"])
def test_ctrl_c_stops_run_keeps_finished_clips_and_resumes(hang_site: Path, tmp_path: Path, executor: str) -> None:
    names = ["hang"] + [f"clip{i:02d}" for i in range(12)]  # the hung clip holds a slot from the start
    manifest = _clips(tmp_path / "clips", names)
    out = tmp_path / "out.jsonl"
    marker = uuid.uuid4().hex
    extra = ["--executor", executor, "--workers", "3", *EXECUTOR_ARGS[executor]]
    proc = subprocess.Popen(
        _run_args(manifest, out, *extra),
        env=_env(hang_site, marker, OD_SLOW="0.4"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + START_SECONDS[executor] + 45
        while len(_records(out)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read()[-3000:] if proc.stderr else ""
        interrupted = time.monotonic()
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends; the hung clip is in flight, its thread asleep
        proc.wait(timeout=20)
        seconds = time.monotonic() - interrupted
        stderr = proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr[-3000:]
    assert seconds < 10, f"stopped {seconds:.1f} s after Ctrl-C"
    assert "interrupted: finished clips are saved" in stderr
    assert _wait_gone(marker, 5) == [], "a worker process (or Ray) outlived the interrupted run"
    kept = [r["id"] for r in _records(out)]
    assert len(kept) >= 2 and len(kept) == len(set(kept))
    # resumed (the tool no longer hangs): every clip exactly once, the finished ones not redone
    done = subprocess.run(
        _run_args(manifest, out, *extra),
        env=_env(hang_site, marker, OD_NO_HANG="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"{len(names) - len(kept)} done, 0 failed, {len(kept)} skipped (already done)" in done.stderr
    ids = [r["id"] for r in _records(out)]
    assert ids[: len(kept)] == kept
    assert sorted(ids) == sorted(names)
