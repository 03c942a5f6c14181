"""Ctrl-C and SIGTERM while real offline observers run: a clean exit (130, 143), never an abort from native code.

The observers' native thread pools (onnxruntime, CTranslate2) run in worker threads; a normal interpreter exit
tears C++ state down under them and ends in ``std::terminate`` (exit 134). See :mod:`detective.cli.exits`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest


def _stop_mid_run(path: str, sig: signal.Signals, after: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OMNI_DETECTIVE_"))}
    env["PYTHONUNBUFFERED"] = "1"
    args = [sys.executable, "-m", "detective", "caption", path, "--offline", "--live"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # --live prints a line as each round starts
            seen.append(line)
            if line.startswith(after):
                break
        else:
            pytest.fail(f"the run ended before {after!r}: {''.join(seen)[-2000:]}")
        time.sleep(0.5)  # into the observers' native code
        proc.send_signal(sig)
        _, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, "".join(seen) + rest


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("after", ["round 1", "round 2"])
def test_a_signal_during_offline_observers_exits_cleanly(
    fixture_media: dict[str, Any], sig: signal.Signals, after: str
) -> None:
    code, stderr = _stop_mid_run(fixture_media["clips"]["race"]["path"], sig, after)
    assert "terminate called" not in stderr and "Traceback" not in stderr, stderr[-3000:]
    assert code == 128 + sig, stderr[-3000:]
