"""Fixtures of the batch tests: tiny WAV clips, manifests and a Detective factory against the loopback server."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from detective.agent.detective import Detective
from detective.llm.settings import Settings
from detective.media import wav_bytes
from detective.testing.tools import ListenTool

N_CLIPS = 40


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 half-second tones (each a different pitch, so each has its own content hash)."""
    root = tmp_path_factory.mktemp("clips")
    t = np.arange(8000) / 16000.0
    for i in range(N_CLIPS):
        tone = 0.3 * np.sin(2 * np.pi * (220.0 + 15.0 * i) * t)
        (root / f"clip{i:02d}.wav").write_bytes(wav_bytes(tone))
    return root


def write_manifest(path: Path, records: list[dict[str, Any]]) -> Path:
    """Write ``records`` as JSONL."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def manifest(tmp_path: Path, clip_dir: Path) -> Path:
    """A manifest of the 40 clips, upstream style (``id`` + absolute ``path``), plus a carried-through field."""
    records = [{"id": i, "path": str(clip_dir / f"clip{i:02d}.wav"), "split": "test"} for i in range(N_CLIPS)]
    return write_manifest(tmp_path / "manifest.jsonl", records)


def make_settings(url: str, *, timeout: float = 5.0) -> Settings:
    """Settings pointing every role at the loopback server, with tiny backoff so faults cost little time."""
    return Settings.from_env(env={}, api_key="sk-test-key", base_url=url, backoff=0.01, timeout=timeout)


def detective_factory(settings: Settings, **kwargs: Any) -> Callable[[], Detective]:
    """A factory of Detectives with the ``listen`` tool, the LLM planner and the chat captioner."""

    def make() -> Detective:
        return Detective(tools=[ListenTool()], planner="llm", captioner="chat", settings=settings, **kwargs)

    return make


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every line of ``path`` parsed (fails the test on a line that does not parse)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


#: BatchConfig options of each executor the batch tests run over.
EXECUTOR_OPTIONS: dict[str, dict[str, Any]] = {
    "local": {"executor": "local"},
    "processes": {"executor": "processes", "processes": 2},
    "ray": {"executor": "ray", "ray_actors": 2, "ray_actor_options": {"num_cpus": 0}},
}


@pytest.fixture(params=list(EXECUTOR_OPTIONS))
def executor(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """BatchConfig options for each executor: local, processes and Ray (one loopback Ray for the session)."""
    if request.param == "ray":
        request.getfixturevalue("ray_session")
        from detective.testing.ray import ship_by_value

        ship_by_value([request.module, sys.modules[__name__]])
    yield dict(EXECUTOR_OPTIONS[request.param])


class Helpers:
    """The helpers above, handed to tests as a fixture (conftest modules are not importable by name)."""

    settings = staticmethod(make_settings)
    factory = staticmethod(detective_factory)
    manifest = staticmethod(write_manifest)
    read = staticmethod(read_jsonl)


@pytest.fixture(scope="session")
def helpers() -> type[Helpers]:
    """Access to the helper functions of this conftest."""
    return Helpers
