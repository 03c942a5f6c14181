"""How the suite's two workers share it (the root conftest.py): the Ray tests in one unit, other modules whole."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _scope():  # the root conftest is not importable by name
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.xdist_scope


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
