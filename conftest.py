"""Settings isolation for every test directory: no developer's user config file or ``$OMNI_DETECTIVE_CONFIG``
reaches a test (``./.env`` and ``./omni-detective.toml`` are read only by tests that create them); and how the two
pytest-xdist workers share the suite: every test that starts, joins or looks for a Ray runs in one worker, one after
another, and every other module's tests run in one worker each, so a module-scoped fixture is computed once."""

from __future__ import annotations

import os
import re
import tempfile
from typing import Any

#: Test modules whose every test starts a Ray, joins one or counts Ray's processes on the machine.
RAY_MODULES = frozenset({"tests/batch/test_ray.py", "tests/batch/test_ray_reaper.py", "tests/jobs/test_ray_join.py"})
#: A test parametrised with the Ray executor: ``[ray]``, ``[ray-…]``, ``[…-ray]`` in its id.
_RAY_PARAM = re.compile(r"\[(?:.*-)?ray(?:-.*)?\]$")


def pytest_configure() -> None:
    """Point the user config folder at an empty temporary folder for the whole session (subprocesses inherit it)."""
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="omni-detective-test-config-")
    os.environ.pop("OMNI_DETECTIVE_CONFIG", None)


def xdist_scope(nodeid: str) -> str:
    """The unit of work a test belongs to: ``"ray"`` for the tests of a Ray (two Rays started at once would find
    each other's session, and the reaper tests count every Ray process), else the test's module."""
    module = nodeid.split("::", 1)[0]
    return "ray" if module in RAY_MODULES or _RAY_PARAM.search(nodeid) else module


def pytest_xdist_make_scheduler(config: Any, log: Any) -> Any:
    """pytest-xdist's load-scope scheduling with :func:`xdist_scope` as the scope (its ``xdist_group`` marks do not
    reach the scheduler under pytest 9: the node ids they rename are read-only there)."""
    from xdist.scheduler import LoadScopeScheduling

    class ModulesAndRay(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(nodeid)

    return ModulesAndRay(config, log)
