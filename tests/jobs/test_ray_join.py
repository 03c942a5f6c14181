"""Joining a Ray cluster by address: a missing one fails at once naming it; a loopback address stays loopback.

No Ray cluster is started here (``ray.init`` is replaced where a test gets that far): these run in a second.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from detective.jobs import ray_executor
from detective.jobs.ray_executor import RayUnavailable, check_reachable, is_loopback, join_ray

ray = pytest.importorskip("ray")


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.fixture
def ray_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever join_ray changes in the environment and in Ray's constants is put back after the test."""
    from ray._private import ray_constants

    for name in (
        "RAY_USAGE_STATS_ENABLED",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER",
        "RAY_gcs_server_port_wait_time_s",
    ):
        monkeypatch.setenv(name, os.environ.get(name, ""))
        if not os.environ.get(name):
            monkeypatch.delenv(name)
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", ray_constants.ENABLE_RAY_CLUSTER)


def test_no_cluster_at_the_address_fails_naming_it(
    closed_port: int, ray_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(ray, "init", lambda *a, **k: calls.append((a, k)))
    address = f"127.0.0.1:{closed_port}"
    with pytest.raises(RayUnavailable, match=f"no Ray cluster at {address} \\(connection refused\\)"):
        join_ray(address)
    assert calls == []  # failed before Ray was asked (it would wait for minutes)


def test_run_with_a_missing_cluster_is_an_error_naming_the_address(
    tmp_path: Path, closed_port: int, ray_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from detective.cli.app import cli

    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as in a fresh command, whatever this session did
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.jsonl").write_text(json.dumps({"path": "x.wav"}) + "\n")
    args = ["run", "--input", "m.jsonl", "--output", "o.jsonl", "--offline", "--tools", "audio_events"]
    result = CliRunner().invoke(cli, [*args, "--executor", "ray", "--ray-address", f"127.0.0.1:{closed_port}"])
    assert result.exit_code == 1 and f"no Ray cluster at 127.0.0.1:{closed_port}" in result.output
    assert "Traceback" not in result.output


def test_a_loopback_address_stays_loopback(listening: int, ray_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def init(address: str, **options: Any) -> None:
        from ray._private import services

        # what Ray does with the address it is given: before the fix it became this machine's routable address
        seen["bootstrap"] = services.canonicalize_bootstrap_address(address)
        seen["options"] = options

    monkeypatch.setattr(ray, "init", init)
    join_ray(f"127.0.0.1:{listening}")
    assert seen["bootstrap"] == f"127.0.0.1:{listening}"
    assert seen["options"]["_node_ip_address"] == "127.0.0.1"


def test_address_forms() -> None:
    assert ray_executor._host_port("ray://10.0.0.5:10001") == ("10.0.0.5", 10001)
    assert ray_executor._host_port("[::1]:6379") == ("::1", 6379)
    assert ray_executor._host_port("auto") is None
    assert is_loopback("localhost") and is_loopback("127.0.0.2") and is_loopback("::1")
    assert not is_loopback("10.0.0.5") and not is_loopback("example.org")
    check_reachable("auto")  # left to Ray
