"""How the suite's two workers share it (the root conftest.py): the Ray tests in one unit, other modules whole."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _root_conftest():  # the root conftest is not importable by name
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scope():
    return _root_conftest().xdist_scope


def test_ray_tests_share_one_unit_and_other_tests_their_module() -> None:
    scope = _scope()
    for nodeid in (
        "tests/batch/test_executor_contract.py::test_kill_9_then_resume[ray]",
        "tests/batch/test_cli.py::test_executor_flags_offline_run[ray]",
        "tests/cloze/test_predict_executors.py::test_predict_on_each_executor[ray-2]",
        "tests/batch/test_ray.py::test_two_nodes",
        "tests/jobs/test_ray_join.py::test_address_forms",
    ):
        assert scope(nodeid) == "ray", nodeid
    assert scope("tests/batch/test_cli.py::test_executor_flags_offline_run[processes]") == "tests/batch/test_cli.py"
    assert scope("observers/asr/tests/test_languages.py::test_transcripts_reach_the_target[es]") == (
        "observers/asr/tests/test_languages.py"
    )
    assert scope("tests/core/test_x.py::test_array[stray]") == "tests/core/test_x.py"  # a word ending in "ray"
    for module in ("tests/batch/test_ray.py", "tests/batch/test_ray_reaper.py", "tests/jobs/test_ray_join.py"):
        assert (ROOT / module).exists(), module


def test_long_units_are_handed_out_first_and_every_one_exists() -> None:
    conftest = _root_conftest()
    order = conftest.unit_order(["tests/core/test_a.py", "tests/examples/test_tutorial.py", "ray", "tests/b.py"])
    assert order == ["ray", "tests/examples/test_tutorial.py", "tests/core/test_a.py", "tests/b.py"]
    for scope in conftest.LONG_UNITS:
        assert scope == "ray" or (ROOT / scope).exists(), scope


def test_the_ray_unit_runs_its_shared_ray_tests_together() -> None:
    """Tests on the Ray executor first, then the rest in collection order: the tests that use ``ray_session`` are
    consecutive, so one Ray serves them all (a test between them would have it stopped and started again)."""
    order = _root_conftest().ray_unit_order(
        [
            "tests/batch/test_cli.py::test_executor_flags_offline_run[ray]",
            "tests/batch/test_ray.py::test_ray_listens_on_loopback_only",
            "tests/batch/test_ray.py::test_two_nodes",
            "tests/batch/test_ray_reaper.py::test_the_driver_is_spared",
            "tests/cloze/test_predict_executors.py::test_predict_on_each_executor[ray-2]",
        ]
    )
    assert order == [
        "tests/batch/test_cli.py::test_executor_flags_offline_run[ray]",
        "tests/cloze/test_predict_executors.py::test_predict_on_each_executor[ray-2]",
        "tests/batch/test_ray.py::test_ray_listens_on_loopback_only",
        "tests/batch/test_ray.py::test_two_nodes",
        "tests/batch/test_ray_reaper.py::test_the_driver_is_spared",
    ]


def test_the_shared_ray_is_kept_only_for_tests_that_want_it() -> None:
    """The root conftest.py stops its shared Ray after a test unless the next one names ``ray_session`` or runs on the
    Ray executor (the reaper tests, which release this process's reaper, and every later test run without it)."""
    from types import SimpleNamespace

    module = _root_conftest()

    def item(nodeid: str, *fixtures: str) -> SimpleNamespace:
        return SimpleNamespace(nodeid=nodeid, fixturenames=list(fixtures))

    assert module.wants_ray(item("tests/batch/test_ray.py::test_ray_listens_on_loopback_only", "ray_session"))
    assert module.wants_ray(item("tests/batch/test_executor_contract.py::test_kill_9_then_resume[ray]", "executor"))
    assert module.wants_ray(item("tests/cloze/test_predict_executors.py::test_predict_on_each_executor[ray-2]"))
    assert not module.wants_ray(item("tests/batch/test_ray_reaper.py::test_the_driver_is_spared", "tmp_path"))
    assert not module.wants_ray(item("tests/batch/test_ray.py::test_two_nodes", "tmp_path", "clip_dir"))
    assert not module.wants_ray(item("tests/core/test_x.py::test_array[stray]"))
