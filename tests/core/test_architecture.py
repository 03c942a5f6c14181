"""The core's shape: rooms with a purpose, no import cycles, the job engine free of the terminal UI, old paths alive."""

from __future__ import annotations

import ast
import importlib
import warnings
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "detective"
ROOMS = ("agent", "cli", "evidence", "jobs", "llm", "media", "report", "testing", "default_plugins")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Every core module ``path`` imports, anywhere in it except under ``if TYPE_CHECKING:``.

    ``from package import module`` counts as an import of the module alone.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("detective"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("detective") and not node.level:
            assert node.module is not None
            submodules = {f"{node.module}.{a.name}" for a in node.names} & modules
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(node.module)
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in CORE.rglob("*.py")}
    names = set(files)
    return {name: {m for m in _imports(path, names) if m in files and m != name} for name, path in files.items()}


def _path(name: str) -> Path:
    base = CORE.parent / name.replace(".", "/")
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_room_says_its_purpose() -> None:
    for room in ROOMS:
        init = CORE / room / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc, f"{init} has no docstring"


def test_the_core_has_no_import_cycle() -> None:
    # the test can fail: the old layout had three (cli <-> doctor, planning <-> rule_planner, settings <-> logs)
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    assert _cycles(_graph()) == []


def test_the_job_engine_knows_no_terminal_ui() -> None:
    graph = _graph()
    for name, imported in graph.items():
        if name.startswith("detective.jobs"):
            assert not {m for m in imported if m.startswith(("detective.cli", "detective.progress"))}, name
            source = _path(name).read_text(encoding="utf-8")
            assert "import rich" not in source and "from rich" not in source, name


def test_the_core_imports_no_observer_or_bundled_plugin() -> None:
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not [n for n in names if n.startswith("detective_")], f"{path} imports {names}"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("detective.graph", "detective.agent.graph"),
        ("detective.crosscheck", "detective.evidence.crosscheck"),
        ("detective.settings", "detective.llm.settings"),
        ("detective.jsonl", "detective.jobs.jsonl"),
        ("detective.batch_cli", "detective.cli.run"),
    ],
)
def test_an_old_module_path_is_the_moved_module(old: str, new: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert module.__spec__ is not None and module.__spec__.name == new


def test_an_old_name_of_a_module_that_became_a_room_still_resolves() -> None:
    from detective.cli.app import main
    from detective.llm.client import LLMClient

    with pytest.warns(DeprecationWarning, match="detective.llm.client"):
        from detective.llm import LLMClient as old
    assert old is LLMClient
    with pytest.warns(DeprecationWarning, match="detective.cli.app"):
        from detective.cli import main as old_main  # the console script of an older install imports this
    assert old_main is main
    with pytest.raises(ImportError):
        from detective.llm import NoSuchName  # noqa: F401
