"""glibc's arenas are capped once per process, unless the user chose otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from detective.models import MediaInfo

CODE = "from detective.agent.allocator import limit_arenas; print(limit_arenas(), limit_arenas())"


def _run(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "OMNI_DETECTIVE_MALLOC_ARENAS")}
    done = subprocess.run(
        [sys.executable, "-c", CODE], env={**clean, **env}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc arenas are a Linux matter")
def test_arenas_are_capped_once_unless_the_user_chose() -> None:
    assert _run() == "2 None"  # capped at 2, and the second call does nothing
    assert _run(OMNI_DETECTIVE_MALLOC_ARENAS="4") == "4 None"
    assert _run(OMNI_DETECTIVE_MALLOC_ARENAS="0") == "None None"  # glibc's default kept
    assert _run(MALLOC_ARENA_MAX="8") == "None None"  # the user's own setting wins


def test_a_run_caps_them(video: MediaInfo) -> None:
    import asyncio

    from detective.agent import allocator
    from detective.agent.detective import Detective
    from detective.testing.fakes import ShotsTool

    allocator._done = False
    asyncio.run(
        Detective(tools=[ShotsTool()], planner="rule", captioner="evidence", offline=True).arun(
            video.source, media=video
        )
    )
    assert allocator._done
