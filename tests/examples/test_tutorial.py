"""The plugin tutorial works copied line by line: every shell block of docs/plugins.md runs, in order, in a fresh
virtual environment (offline: the project and its dependencies are the ones of this environment, made visible to
the new one; pip never reaches an index)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TUTORIAL = REPO / "docs" / "plugins.md"


def shell_lines(markdown: str) -> list[str]:
    """The commands of the page's ```bash blocks, in order (comments dropped)."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, re.S):
        for line in block.splitlines():
            command = line.split("  #", 1)[0].strip()
            if command and not command.startswith("#"):
                lines.append(command)
    return lines


def fresh_venv(where: Path) -> Path:
    """A new virtual environment that sees this environment's packages (what `pip install omni-detective` gave the
    user), with the console scripts a real install would have put in its bin folder."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=300)
    python = where / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    # an `import` line of a .pth runs: addsitedir also processes that folder's .pth files (editable installs)
    added = "".join(f"import site; site.addsitedir({p!r})\n" for p in sorted(ours))
    (Path(purelib) / "omni_detective_parent.pth").write_text(added, encoding="utf-8")
    for name, entry in (
        ("omni-detective", "from detective.cli.app import main"),
        ("pytest", "from pytest import main"),
    ):
        script = where / "bin" / name
        script.write_text(f"#!{python}\nimport sys\n{entry}\nsys.exit(main())\n", encoding="utf-8")
        script.chmod(0o755)
    return where


def test_every_shell_line_of_the_plugin_tutorial_runs(tmp_path: Path) -> None:
    lines = shell_lines(TUTORIAL.read_text(encoding="utf-8"))
    assert lines[:3] == [
        "omni-detective plugin new clipping --dir ~/src",
        "pip install -e ~/src/omni-detective-clipping[test]",
        "pytest ~/src/omni-detective-clipping",
    ]
    venv = fresh_venv(tmp_path / "venv")
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "checkout"  # the lines that name examples/ run in a copy of the checkout's examples
    shutil.copytree(REPO / "examples", work / "examples", ignore=shutil.ignore_patterns("*.egg-info", "build"))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OMNI_DETECTIVE_", "OPENAI_"))}
    env.update(
        HOME=str(home),
        PATH=f"{venv / 'bin'}:{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PIP_NO_INDEX="1",
        PIP_NO_BUILD_ISOLATION="0",  # pip's spelling of --no-build-isolation
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        OMNI_DETECTIVE_OFFLINE="1",
    )
    for line in lines:
        proc = subprocess.run(["bash", "-c", line], cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, (
            f"`{line}` failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
        if line.startswith("pytest ~/src"):
            assert "passed" in proc.stdout and "warning" not in proc.stdout.lower(), proc.stdout
        if line.startswith("omni-detective caption"):
            assert proc.stdout.startswith("## Storyline"), proc.stdout[:500]
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    ).stdout
    assert "omni-detective-clipping" in installed
