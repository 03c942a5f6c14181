"""Fixtures of the observers' own tests (``observers/<name>/tests``), shared with the repository's tests/."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_shared = _load(REPO / "tests" / "conftest.py", "omni_tests_conftest")
#: The synthetic clips with known ground truth, the demo clip, the photographs clip, the real-media corpus and
#: the language clips.
fixture_media = _shared.fixture_media
demo_path = _shared.demo_path
photo_clip = _shared.photo_clip
real_footage = _shared.real_footage
language_clips = _shared.language_clips
real_corpus = _shared.real_corpus
