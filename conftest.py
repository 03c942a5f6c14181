"""Settings isolation for every test directory: no developer's user config file or ``$OMNI_DETECTIVE_CONFIG``
reaches a test (``./.env`` and ``./omni-detective.toml`` are read only by tests that create them); and the tests
that start or join a Ray put in one pytest-xdist group, so they run one after another in one worker process."""

from __future__ import annotations

import os
import tempfile

import pytest

#: Test modules whose every test starts a Ray of its own (or joins one), whatever its fixtures.
RAY_MODULES = {"test_ray.py"}


def pytest_configure() -> None:
    """Point the user config folder at an empty temporary folder for the whole session (subprocesses inherit it)."""
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="omni-detective-test-config-")
    os.environ.pop("OMNI_DETECTIVE_CONFIG", None)


def uses_ray(item: pytest.Item) -> bool:
    """Whether ``item`` starts or joins a Ray: the ``ray_session`` fixture, a parameter ``"ray"`` (the executor
    of the contract, CLI and cloze-predict tests) or a module of :data:`RAY_MODULES`."""
    callspec = getattr(item, "callspec", None)
    params = callspec.params.values() if callspec is not None else ()
    return (
        "ray_session" in getattr(item, "fixturenames", ())
        or any(value == "ray" for value in params if isinstance(value, str))
        or item.path.name in RAY_MODULES
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the Ray tests ``xdist_group("ray")``: with ``--dist loadgroup`` one worker runs them all, in order, so
    two Rays never start at once (each would find the other's session) and the module-scoped ``ray_session`` is
    started once per module as without xdist."""
    for item in items:
        if uses_ray(item):
            item.add_marker(pytest.mark.xdist_group("ray"))
