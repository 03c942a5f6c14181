"""Shared fixtures: the synthetic clips with known ground truth (built once, cached by the builder's hash)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
BUILDER = REPO / "tests" / "fixtures" / "make_fixtures.py"
DEMO = REPO / "examples" / "media" / "demo.mp4"


def _builder() -> Any:
    spec = importlib.util.spec_from_file_location("omni_make_fixtures", BUILDER)
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
    digest = hashlib.sha256(BUILDER.read_bytes()).hexdigest()[:16]
    parent = Path(os.environ.get("OMNI_DETECTIVE_FIXTURE_DIR", REPO / ".cache" / "fixtures"))
    root = parent / digest
    builder = _builder()
    truth_file = root / "ground_truth.json"
    if truth_file.exists():
        return builder.with_paths(root, json.loads(truth_file.read_text(encoding="utf-8")))
    # build beside, then rename: parallel sessions never see a half-built directory
    staging = parent / f"{digest}.building-{os.getpid()}"
    builder.build_fixtures(staging)
    try:
        staging.rename(root)
    except OSError:  # another session finished first: use its copy
        shutil.rmtree(staging, ignore_errors=True)
    return builder.with_paths(root, json.loads(truth_file.read_text(encoding="utf-8")))


@pytest.fixture(scope="session")
def demo_path() -> str:
    """Path of the committed demo clip ``examples/media/demo.mp4``."""
    if not DEMO.exists():
        pytest.fail(f"{DEMO} is missing: build it with `python tests/fixtures/make_fixtures.py --demo {DEMO}`")
    return str(DEMO)


@pytest.fixture(scope="session")
def ray_session() -> Iterator[str]:
    """A Ray on this machine bound to 127.0.0.1, shared by the session; yields its address.

    Started by the first test that needs it (the Ray executor tests of batch and cloze), stopped at the end.
    """
    pytest.importorskip("ray")
    from detective.testing.ray import ray_for_tests

    with ray_for_tests() as address:
        yield address
