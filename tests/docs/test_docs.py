"""The documentation site builds strictly, offline, and stays true to the code."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from detective.llm.settings import RoleSettings, Settings

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


def _load(script: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_{script}", DOCS / f"{script}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _clean_env() -> dict[str, str]:
    """The environment without the switches that change which plugins load."""
    env = {
        k: v for k, v in os.environ.items() if k not in {"OMNI_DETECTIVE_LOAD_PLUGINS", "OMNI_DETECTIVE_TRACE_PLUGINS"}
    }
    return {**env, "NO_MKDOCS_2_WARNING": "1"}


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``mkdocs build --strict`` of the docs into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(REPO / "mkdocs.yml"),
            "--site-dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
        env=_clean_env(),
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def test_site_builds_strictly_with_every_page(site: Path) -> None:
    pages = {p.stem for p in DOCS.glob("*.md")}
    assert {"index", "concepts", "cli", "api", "configuration", "plugins", "hooks", "cloze", "scale", "report"} <= pages
    for page in pages:
        built = site / ("index.html" if page == "index" else f"{page}/index.html")
        assert built.exists(), f"{page}.md was not built"
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    assert not [p for p in pages if f"{p}.md" not in nav], "every page is in the nav"


def test_site_fetches_nothing_at_build_and_embeds_the_graph(site: Path) -> None:
    concepts = (site / "concepts" / "index.html").read_text(encoding="utf-8")
    # the graph is an SVG drawn at build time (docs/mermaid_hook.py), not Mermaid code for a CDN's mermaid.js
    figure = concepts[concepts.index('<figure class="mermaid-svg"') :].split("</figure>", 1)[0]
    assert "<svg" in figure and ">synthesize<" in figure and ">review<" in figure
    assert '<pre class="mermaid">' not in concepts and "review -.-&gt; plan" in concepts  # the folded source
    # definition lists render as <dl>, not as "Media : An input clip…" paragraphs
    assert "<dt>Media</dt>" in concepts and "<p>Media\n: " not in concepts
    assert (site / "img" / "graph.png").exists() and (site / "img" / "report.png").exists()
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "fonts.googleapis.com" not in index and "fonts.gstatic.com" not in index
    assert not (site / "assets" / "external").exists(), "the privacy plugin would have downloaded assets"


def test_mermaid_block_is_the_code_s_graph() -> None:
    gen = _load("gen_graph")
    embedded = gen.embedded((DOCS / "concepts.md").read_text(encoding="utf-8"))
    assert embedded == gen.mermaid(), "docs/concepts.md's graph drifted: run python docs/gen_graph.py"
    cli = subprocess.run(
        [sys.executable, "-m", "detective", "graph"], capture_output=True, text=True, timeout=60, check=True
    )
    assert cli.stdout.rstrip() + "\n" == embedded


def test_graph_png_is_a_picture_of_the_graph() -> None:
    from PIL import Image

    with Image.open(DOCS / "img" / "graph.png") as img:
        assert img.format == "PNG" and img.width > 150 and img.height > 300


def test_cli_reference_matches_the_cli() -> None:
    proc = subprocess.run(
        [sys.executable, str(DOCS / "gen_cli_reference.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=_clean_env(),
    )
    assert proc.returncode == 0, proc.stderr + "\n(run: python docs/gen_cli_reference.py)"


def test_cli_reference_covers_every_command_including_plugin_commands() -> None:
    from detective.cli.app import cli

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for name in cli.list_commands(None):  # type: ignore[arg-type]
        assert f"## omni-detective {name}\n" in text
    assert "#### omni-detective cloze predict" in text  # added by the cloze plugin's register_commands


def test_check_mode_detects_drift(tmp_path: Path) -> None:
    stale = tmp_path / "cli.md"
    stale.write_text("# CLI reference\n\nold\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(DOCS / "gen_cli_reference.py"), "--check", "--out", str(stale)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(),
    )
    assert proc.returncode == 1 and "out of date" in proc.stderr


def test_configuration_documents_every_setting_and_variable() -> None:
    doc = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for name in [*Settings.model_fields, *RoleSettings.model_fields]:
        assert f"`{name}`" in doc, f"setting {name} is not in docs/configuration.md"
    for role in ("planner", "observer", "vision", "captioner", "judge", "direct"):
        for suffix in ("MODEL", "BASE_URL", "API_KEY"):
            assert f"OMNI_DETECTIVE_{role.upper()}_{suffix}" in doc
    used: set[str] = set()
    for folder in ("detective", "observers", "plugins", "scripts", "tests", "examples"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix in {".py", ".sh", ".toml"} and ".egg-info" not in str(path) and path.is_file():
                used |= set(re.findall(r"OMNI_DETECTIVE_[A-Z0-9_]+", path.read_text(encoding="utf-8", errors="ignore")))
    assert len(used) > 8
    documented = set(re.findall(r"OMNI_DETECTIVE_[A-Z0-9_]+", doc))
    missing = sorted(
        v
        for v in used
        if (v.endswith("_") and not any(d.startswith(v) for d in documented))
        or (not v.endswith("_") and v not in documented)
    )
    assert not missing, f"environment variables used in the repo but not in docs/configuration.md: {missing}"
