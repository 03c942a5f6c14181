"""Fixtures of the ``speakers`` tests: espeak-ng conversations with known turns, built once per builder version."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
BUILDER = HERE / "make_conversations.py"


def load_module(path: Path) -> ModuleType:
    """Import a helper module of these tests by path (the test suite imports in ``importlib`` mode)."""
    spec = importlib.util.spec_from_file_location(f"speakers_tests_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def conversations() -> dict[str, Any]:
    """Paths and ground truth of the conversation clips (layout: ``make_conversations.build_conversations``).

    Built into ``<repo>/.cache/fixtures/speakers-<hash of the builder>`` (parent overridable with
    ``OMNI_DETECTIVE_FIXTURE_DIR``); an unchanged builder reuses the clips.
    """
    builder = load_module(BUILDER)
    digest = hashlib.sha256(BUILDER.read_bytes()).hexdigest()[:16]
    parent = Path(os.environ.get("OMNI_DETECTIVE_FIXTURE_DIR", REPO / ".cache" / "fixtures"))
    root = parent / f"speakers-{digest}"
    truth_file = root / "truth.json"
    if not truth_file.exists():
        staging = parent / f"speakers-{digest}.building-{os.getpid()}"
        builder.build_conversations(staging)
        try:
            staging.rename(root)
        except OSError:  # another session finished first
            shutil.rmtree(staging, ignore_errors=True)
    return builder.with_paths(root, json.loads(truth_file.read_text(encoding="utf-8")))


@pytest.fixture(scope="session")
def scoring() -> ModuleType:
    """The DER / attribution scorer (``scoring.py`` beside this file)."""
    return load_module(HERE / "scoring.py")


@pytest.fixture(scope="session")
def silent_video(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 1 s video with no audio stream."""
    out = tmp_path_factory.mktemp("speakers") / "no_audio.mp4"
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=64x64:r=10:d=1"]
    subprocess.run([*cmd, "-pix_fmt", "yuv420p", str(out)], check=True, capture_output=True)
    return str(out)
