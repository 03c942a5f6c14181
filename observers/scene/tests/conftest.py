"""Fixtures of the ``scene`` observer's tests: the repository's synthetic clips and the photographs clip."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
BUILDER = REPO / "tests" / "fixtures" / "make_scene_fixtures.py"


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The synthetic clips with known ground truth (``fixture_media``) and the demo clip, shared with tests/.
_shared = _load(REPO / "tests" / "conftest.py", "omni_tests_conftest")
fixture_media = _shared.fixture_media
demo_path = _shared.demo_path


@pytest.fixture(scope="session")
def photo_clip() -> dict[str, Any]:
    """``photos.mp4`` (three photographs among synthetic shots, generated sounds) and its ground truth.

    Built by ``tests/fixtures/make_scene_fixtures.py`` into ``<repo>/.cache/fixtures/scene-<hash of the
    builder>`` (parent overridable with ``OMNI_DETECTIVE_FIXTURE_DIR``) and reused while the builder is unchanged.
    """
    digest = hashlib.sha256(BUILDER.read_bytes()).hexdigest()[:16]
    parent = Path(os.environ.get("OMNI_DETECTIVE_FIXTURE_DIR", REPO / ".cache" / "fixtures"))
    root = parent / f"scene-{digest}"
    if not (root / "ground_truth.json").exists():
        staging = parent / f"scene-{digest}.building-{os.getpid()}"
        _load(BUILDER, "omni_make_scene_fixtures").build(staging)
        try:
            staging.rename(root)
        except OSError:  # another session finished first: use its copy
            shutil.rmtree(staging, ignore_errors=True)
    truth = json.loads((root / "ground_truth.json").read_text(encoding="utf-8"))
    clip = truth["clip"]
    clip["path"] = str(root / clip["file"])
    clip["wav"] = str(root / truth["wav"]["file"])
    return clip
