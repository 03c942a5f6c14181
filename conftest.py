"""Settings isolation for every test directory: no developer's user config file or ``$OMNI_DETECTIVE_CONFIG``
reaches a test (``./.env`` and ``./omni-detective.toml`` are read only by tests that create them)."""

from __future__ import annotations

import os
import tempfile


def pytest_configure() -> None:
    """Point the user config folder at an empty temporary folder for the whole session (subprocesses inherit it)."""
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="omni-detective-test-config-")
    os.environ.pop("OMNI_DETECTIVE_CONFIG", None)
