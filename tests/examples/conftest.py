"""Helpers for running the example scripts and installing plugin distributions into private site folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess: offline, every installed plugin, no key to tempt a remote call."""
    drop = {"OMNI_DETECTIVE_LOAD_PLUGINS", "OMNI_DETECTIVE_TRACE_PLUGINS", "OPENAI_API_KEY"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, "OMNI_DETECTIVE_OFFLINE": "1", **extra}


def run_example(script: str, *args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``examples/<script>`` and fail with its output when it exits non-zero."""
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=clean_env(**env),
    )
    assert proc.returncode == 0, f"{script} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def pip_install_target(source: Path, work: Path) -> Path:
    """Copy ``source`` (so the build leaves the repo clean) and pip-install it into ``work/site``."""
    copy = work / source.name
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = work / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(copy),
        ],
        check=True,
        timeout=300,
    )
    return target


@pytest.fixture(scope="session")
def plugin_example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``examples/plugin-example`` installed into a private site directory."""
    return pip_install_target(EXAMPLES / "plugin-example", tmp_path_factory.mktemp("plugin-example"))
