"""The built-in observers' tests live in their distributions (``observers/<name>/tests``) and share the suite's
fixtures: the synthetic clips with known ground truth and the demo clip, from ``tests/conftest.py``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "omni_shared_conftest", Path(__file__).resolve().parents[1] / "tests" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)

demo_path = _shared.demo_path
fixture_media = _shared.fixture_media
