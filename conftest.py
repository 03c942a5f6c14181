"""Settings isolation for every test directory: no developer's user config file or ``$OMNI_DETECTIVE_CONFIG``
reaches a test (``./.env`` and ``./omni-detective.toml`` are read only by tests that create them); and how the two
pytest-xdist workers share the suite: every test that starts, joins or looks for a Ray runs in one worker, one after
another (those that share :func:`ray_session`'s Ray next to each other), and every other module's tests run in one
worker each, so a module-scoped fixture is computed once; the longest units are handed out first."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from typing import Any

import pytest

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


#: Units that take longest (seconds of one worker, measured on a cold two-core run), handed out first and in this
#: order so that no long unit starts last while the other worker has nothing left to do; every other unit follows,
#: largest first (pytest-xdist's order). A unit missing here only starts later: the order never decides an outcome.
LONG_UNITS = (
    "ray",  # about 190 s
    "observers/asr/tests/test_languages.py",  # 75 s: Whisper base over every language clip
    "tests/batch/test_executor_contract.py",  # 50 s
    "tests/examples/test_examples.py",  # 48 s
    "tests/examples/test_tutorial.py",  # 33 s: one test, last under the default order
    "observers/speakers/tests/test_speakers.py",  # 30 s
    "tests/core/test_deadlines.py",  # 24 s
    "observers/asr/tests/test_asr.py",  # 23 s
    "tests/core/test_exits.py",  # 20 s
    "tests/core/test_deadline.py",  # 20 s
    "tests/report/test_report.py",  # 19 s
    "tests/examples/test_plugin_template.py",  # 19 s
    "tests/captioning/test_end_to_end.py",  # 18 s
    "observers/scene/tests/test_scene_real_footage.py",  # 16 s
    "observers/scene/tests/test_people.py",  # 14 s
    "observers/ocr/tests/test_ocr.py",  # 14 s
)


def unit_order(scopes: list[str]) -> list[str]:
    """The order units are handed out in: :data:`LONG_UNITS` first, then the others in their given order."""
    rank = {scope: i for i, scope in enumerate(LONG_UNITS)}
    return sorted(scopes, key=lambda scope: rank.get(scope, len(LONG_UNITS)))


def ray_unit_order(nodeids: list[str]) -> list[str]:
    """The ray unit's tests in the order its worker runs them: those parametrised with the Ray executor first, then
    the others in collection order (the Ray tests of ``test_ray.py`` that use the shared Ray come first there). So
    the tests that use the Ray of :func:`ray_session` run one after another on one Ray, started
    once, instead of one Ray per module."""
    return sorted(nodeids, key=lambda nodeid: 0 if _RAY_PARAM.search(nodeid) else 1)


def pytest_xdist_make_scheduler(config: Any, log: Any) -> Any:
    """pytest-xdist's load-scope scheduling with :func:`xdist_scope` as the scope (its ``xdist_group`` marks do not
    reach the scheduler under pytest 9: the node ids they rename are read-only there), units handed out in
    :func:`unit_order` and the ray unit run in :func:`ray_unit_order`."""
    from xdist.scheduler import LoadScopeScheduling

    class ModulesAndRay(LoadScopeScheduling):
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            if not self.ordered:  # the queue is complete when the first unit is handed out
                self.ordered = True
                for scope in reversed(unit_order(list(self.workqueue))):
                    self.workqueue.move_to_end(scope, last=False)
                if "ray" in self.workqueue:
                    unit = self.workqueue["ray"]
                    self.workqueue["ray"] = {nodeid: unit[nodeid] for nodeid in ray_unit_order(list(unit))}
            super()._assign_work_unit(node)

    return ModulesAndRay(config, log)


class _SharedRay:
    """The Ray of :func:`ray_session`: started by the first test that asks for it, kept for the tests right after it
    that want a Ray too, stopped (by :func:`pytest_runtest_teardown`) after the last of them.

    Kept no longer: a Ray driver left running in the test process for the rest of the suite ends the whole process
    (exit 1, no report) when its raylet goes, which a later, unrelated test was seen to meet; and the reaper tests
    (``tests/batch/test_ray_reaper.py``) start and release this process's reaper, which would kill a live Ray.
    """

    def __init__(self) -> None:
        self._stack: contextlib.ExitStack | None = None
        self._address = ""

    def address(self) -> str:
        import ray

        if self._stack is not None and not ray.is_initialized():  # a test shut it down: start a new one
            self.stop()
        if self._stack is None:
            from detective.testing.ray import ray_for_tests

            stack = contextlib.ExitStack()
            self._address = stack.enter_context(ray_for_tests())
            self._stack = stack
        return self._address

    def stop(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()


_RAY = _SharedRay()


def wants_ray(item: pytest.Item) -> bool:
    """Whether ``item`` may use :func:`ray_session`: it names the fixture, or it runs on the Ray executor (whose
    fixture asks for a Ray with ``request.getfixturevalue``)."""
    return "ray_session" in getattr(item, "fixturenames", ()) or bool(_RAY_PARAM.search(item.nodeid))


@pytest.fixture
def ray_session() -> str:
    """A Ray on this machine bound to 127.0.0.1; yields its address.

    One Ray serves a run of consecutive tests that want one (the root conftest.py runs every Ray test on one worker
    and these first, one after another): started by the first, stopped after the last (see :class:`_SharedRay`).
    """
    pytest.importorskip("ray")
    return _RAY.address()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """After a test's own teardown: stop the shared Ray unless the next test wants it."""
    try:
        return (yield)
    finally:
        if nextitem is None or not wants_ray(nextitem):
            _RAY.stop()


def pytest_sessionfinish() -> None:
    """The shared Ray never outlives the session (an interrupted run skips the teardown above)."""
    _RAY.stop()
