"""Progress bars (rich): the fields they show, lines printed above them, and no bar without a terminal."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import structlog
from rich.console import Console

from detective import logs
from detective.agent.batch import BatchConfig, arun_batch
from detective.agent.events import Captioned, Observed, RoundPlanned
from detective.jobs.manifest import count_lines
from detective.jobs.summary import JobSummary
from detective.models import Caption, Observation, Query, RunResult
from detective.progress import CaptionProgress, JobProgress, wanted
from detective.testing.fakes import run_result

_CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def screen_lines(raw: str) -> list[str]:
    """What a terminal shows, line by line, as written: control sequences dropped, split at newlines and ``\\r``."""
    return [line for line in re.split(r"[\r\n]", _CSI.sub("", raw)) if line.strip()]


class SlowDetective:
    """Captions after ``delay`` seconds with 120 tokens, logging a line mid-way through the clip named ``loud``."""

    def __init__(self, delay: float = 0.05, fail: str = "") -> None:
        self.delay = delay
        self.fail = fail

    async def arun(self, source: str, *, clip: str | None = None) -> RunResult:
        await asyncio.sleep(self.delay)
        if Path(source).name == "loud.wav":
            structlog.get_logger("test").warning("a log line from the middle of the run", clip=clip)
        await asyncio.sleep(self.delay)
        if Path(source).name == self.fail:
            raise ValueError("this clip is broken")
        return run_result(source)


def manifest(tmp_path: Path, names: list[str]) -> Path:
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps({"id": n, "path": f"{n}.wav"}) + "\n" for n in names), encoding="utf-8")
    return path


@pytest.fixture
def default_logs() -> Any:
    """structlog as the CLI sets it up (readable lines on standard error), restored afterwards."""
    structlog.reset_defaults()
    logs.configure(level="WARNING")
    yield
    structlog.reset_defaults()
    logs.configure()


def test_job_bar_shows_total_percent_eta_in_flight_failures_and_tokens(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    names = [f"c{i}" for i in range(6)]
    config = BatchConfig(manifest(tmp_path, names), tmp_path / "o.jsonl", workers=2, retries=0, progress=True)
    config.progress_interval = 0.01
    stream = io.StringIO()
    summary = asyncio.run(arun_batch(config, lambda: SlowDetective(0.1, fail="c3.wav"), stream))
    assert summary.done == 5 and summary.failed == 1
    shown = screen_lines(stream.getvalue())
    bars = [line for line in shown if "in flight" in line]
    assert bars, shown
    last = bars[-1]
    assert "100%" in last and "6/6" in last and "ETA" in last
    assert "0 in flight" in last and "1 failed" in last and f"{5 * 120:,} tokens" in last
    assert any("2 in flight" in line for line in bars), "two clips were in flight at once"
    assert any(re.search(r"\b[1-9]\d?%", line) for line in bars), "the bar moved through the run"
    # the engine's own report lines and the summary are lines of their own, after or above the bar
    failed = [line for line in shown if line.startswith("failed: line 4")]
    assert failed and "in flight" not in failed[0]
    summary_line = next(i for i, line in enumerate(shown) if line.startswith("omni-detective run: 5 done"))
    assert summary_line > shown.index(last), "the summary follows the bar's last state"


def test_total_leaves_out_lines_already_done_and_respects_the_limit(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    path = manifest(tmp_path, [f"c{i}" for i in range(5)])
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n{not json\n")  # a blank line (not counted) and an invalid one (not work)
    out = tmp_path / "o.jsonl"
    first = BatchConfig(path, out, workers=1, progress=True, limit=2)
    stream = io.StringIO()
    asyncio.run(arun_batch(first, lambda: SlowDetective(0.01), stream))
    assert "2/2" in [line for line in screen_lines(stream.getvalue()) if "in flight" in line][-1]
    second = BatchConfig(path, out, workers=1, progress=True)
    stream = io.StringIO()
    summary = asyncio.run(arun_batch(second, lambda: SlowDetective(0.01), stream))
    assert summary.done == 3 and summary.invalid == 1
    last = [line for line in screen_lines(stream.getvalue()) if "in flight" in line][-1]
    assert "3/3" in last and "100%" in last and "1 failed" in last  # the invalid line counts as a failure


def test_a_log_line_mid_run_prints_above_the_bar(tmp_path: Path, monkeypatch, default_logs: None) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    config = BatchConfig(manifest(tmp_path, ["a", "loud", "b"]), tmp_path / "o.jsonl", workers=1, progress=True)
    stream = io.StringIO()
    asyncio.run(arun_batch(config, lambda: SlowDetective(0.1), stream))
    shown = screen_lines(stream.getvalue())
    logged = [line for line in shown if "a log line from the middle of the run" in line]
    assert len(logged) == 1 and "in flight" not in logged[0] and "━" not in logged[0]
    assert "[warning" in logged[0] and "loud" in logged[0]
    before = shown.index(logged[0])
    assert any("in flight" in line for line in shown[:before]), "the bar was drawn before the log line"
    assert any("in flight" in line for line in shown[before + 1 :]), "and drawn again under it"


def test_no_bar_without_a_terminal(tmp_path: Path, default_logs: None) -> None:
    config = BatchConfig(manifest(tmp_path, ["a", "loud"]), tmp_path / "o.jsonl", workers=1)
    stream = io.StringIO()
    summary = asyncio.run(arun_batch(config, lambda: SlowDetective(0.01), stream))
    assert summary.done == 2
    text = stream.getvalue()
    assert "\x1b" not in text and "\r" not in text and "in flight" not in text
    assert text.startswith("omni-detective run: 2 done, 0 failed")
    assert not wanted(stream, None) and wanted(stream, True) and not wanted(io.StringIO(), False)


def test_job_bar_rendered_on_a_given_console() -> None:
    summary = JobSummary(Path("o.jsonl"), Path("o.errors.jsonl"))
    bar = JobProgress(summary, io.StringIO(), force_terminal=True)
    bar.start()
    try:
        summary.done, summary.failed, summary.skipped = 3, 1, 10
        summary.usage.add_model("m", 900, 100)
        bar.update(total=8, in_flight=2)
        console = Console(file=io.StringIO(), force_terminal=True, width=160)
        assert bar.progress is not None
        console.print(bar.progress)
        text = _CSI.sub("", console.file.getvalue())  # type: ignore[attr-defined]
    finally:
        bar.stop()
    assert "50%" in text and "4/8" in text and "ETA" in text
    assert "2 in flight" in text and "1 failed" in text and "10 skipped" in text and "1,000 tokens" in text


def test_caption_bar_counts_rounds_and_observers() -> None:
    bar = CaptionProgress(io.StringIO(), force_terminal=True)
    bar.start()
    try:
        bar.on_event(RoundPlanned(round=1, queries=[Query(tool="asr"), Query(tool="shots"), Query(tool="ocr")]))
        obs = Observation(tool="asr", kind="speech", content="hello")
        bar.on_event(Observed(round=1, tool="asr", query_key="k1", observations=[obs, obs]))
        bar.on_event(Observed(round=1, tool="shots", query_key="k2"))
        console = Console(file=io.StringIO(), force_terminal=True, width=160)
        assert bar.progress is not None
        console.print(bar.progress)
        mid = _CSI.sub("", console.file.getvalue())  # type: ignore[attr-defined]
        bar.on_event(Captioned(caption=Caption(), markdown="", stop_reason="done"))
    finally:
        bar.stop()
    assert "round 1" in mid and "2/3" in mid and "2 observations" in mid and "0 failed" in mid


def test_count_lines(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"id": 1}\n\n  \n{"id": 2}\n{"id": 3}')
    assert count_lines(path) == 3
    assert count_lines(path, offset=len(b'{"id": 1}\n')) == 2
    assert count_lines(tmp_path / "missing.jsonl") is None


RELAY = textwrap.dedent(
    """
    import os, sys, time, logging
    import av.logging
    from pathlib import Path
    from detective.jobs.summary import JobSummary
    from detective.progress import JobProgress

    bar = JobProgress(JobSummary(Path("o"), Path("e")), sys.stderr, force_terminal=True)
    bar.start()
    bar.update(total=4, in_flight=1)
    time.sleep(0.3)
    os.write(2, b"written by C code to descriptor 2\\n")
    av.logging.restore_default_callback()  # what scenedetect's PyAV backend does: FFmpeg prints on its own
    av.logging.log(av.logging.WARNING, "h264", "a decoder warning nobody needs")
    av.logging.log(av.logging.ERROR, "h264", "a decoder error worth seeing\\n")
    os.write(2, b"a C line without its newline")
    time.sleep(0.6)
    print("a line on sys.stderr", file=sys.stderr)
    logging.getLogger("some.library").warning("a stdlib logging warning")
    pid = os.fork()
    if pid == 0:
        print("a forked worker writes", file=sys.stderr)
        sys.stderr.flush()
        os._exit(0)
    os.waitpid(pid, 0)
    time.sleep(0.3)
    bar.update(total=4, in_flight=0)
    bar.stop()
    print("after the bar", file=sys.stderr)
    """
)


def test_descriptor_2_and_ffmpeg_print_above_the_bar(tmp_path: Path) -> None:
    script = tmp_path / "relay.py"
    script.write_text(RELAY, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "150"}
    )
    assert proc.returncode == 0, proc.stderr
    shown = screen_lines(proc.stderr)
    for text in (
        "written by C code to descriptor 2",
        "a decoder error worth seeing",
        "a C line without its newline",
        "a line on sys.stderr",
        "a stdlib logging warning",
        "a forked worker writes",
        "after the bar",
    ):
        lines = [line for line in shown if text in line]
        assert len(lines) == 1, (text, shown)
        assert "in flight" not in lines[0], f"{text!r} went through the bar"
    assert "a decoder warning nobody needs" not in proc.stderr  # FFmpeg below errors is silenced
    bar_lines = [i for i, line in enumerate(shown) if "in flight" in line]
    assert bar_lines and bar_lines[-1] < shown.index("after the bar")


def _run_on_a_terminal(args: list[str]) -> tuple[int, str, str]:
    """Run the CLI with standard error on a pseudo-terminal and standard output on a pipe."""
    import pty
    import select

    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm-256color"}
    proc = subprocess.Popen([sys.executable, "-m", "detective", *args], stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    err = b""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            err += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    return proc.wait(timeout=10), out, err.decode("utf-8", "replace")


def test_caption_shows_rounds_and_observers_on_a_terminal_only(demo_path: str) -> None:
    args = ["caption", demo_path, "--offline", "--tools", "audio_events,shots", "--live"]
    code, out, err = _run_on_a_terminal(args)
    assert code == 0, err
    shown = screen_lines(err)
    bars = [line for line in shown if "observers ·" in line]
    assert any("round 1" in line and "0/2 observers" in line for line in bars), shown
    assert any("2/2 observers" in line and "0 failed" in line for line in bars)
    live = [line for line in shown if line.startswith("  audio_events:") or line.startswith("round 1: asks")]
    assert len(live) == 2 and not any("observers ·" in line for line in live)  # --live lines above the bar
    assert err.rstrip().endswith("\x1b[2K"), "the bar is erased when the caption is written"
    assert out.startswith("## Storyline") and "\x1b" not in out  # the caption alone on standard output

    piped = subprocess.run([sys.executable, "-m", "detective", *args], capture_output=True, text=True, timeout=240)
    assert piped.returncode == 0, piped.stderr
    assert "\x1b" not in piped.stderr and "observers ·" not in piped.stderr  # no terminal, no bar
    assert piped.stdout == out.replace("\r\n", "\n")
    assert "round 1: asks shots, audio_events" in piped.stderr.splitlines()  # the costlier tool first
