"""A manifest mixing good clips with missing, empty and truncated files, broken lines and duplicate ids."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from detective_testserver import ChatServer

from detective.agent.batch import BatchConfig, run_batch


def test_bad_inputs_are_reported_and_good_clips_captioned(tmp_path: Path, clip_dir: Path, helpers) -> None:
    media = tmp_path / "media"
    media.mkdir()
    for i in range(3):
        shutil.copy(clip_dir / f"clip{i:02d}.wav", media / f"good{i}.wav")
    (media / "empty.wav").write_bytes(b"")
    (media / "truncated.wav").write_bytes((clip_dir / "clip03.wav").read_bytes()[:30])
    (media / "notmedia.wav").write_text("this is not audio\n" * 20)
    manifest = tmp_path / "manifest.jsonl"
    lines = [
        '{"id": "g0", "path": "media/good0.wav"}',  # relative to the manifest's folder
        '{"id": "g1", "path": "media/good1.wav", "extra": [1, 2]}',
        '{"id": "missing", "path": "media/nope.wav"}',
        '{"id": "empty", "path": "media/empty.wav"}',
        '{"id": "trunc", "path": "media/truncated.wav"}',
        '{"id": "junk", "path": "media/notmedia.wav"}',
        '{"id": "broken", "path": ',
        '{"id": "nomedia", "note": "no path at all"}',
        '{"id": "g0", "path": "media/good0.wav"}',  # duplicate id
        '{"uuid": 7, "video_path": "good2.wav"}',  # Omni-Cloze style
    ]
    manifest.write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "bin\xff"}\n')
    with ChatServer() as server:
        stream = io.StringIO()
        config = BatchConfig(manifest, tmp_path / "out.jsonl", workers=4)
        (tmp_path / "good2.wav").symlink_to(media / "good2.wav")  # beside the manifest
        summary = run_batch(config, helpers.factory(helpers.settings(server.url)), stream)
    report = stream.getvalue()
    done = {r.get("id", r.get("uuid")): r for r in helpers.read(tmp_path / "out.jsonl")}
    assert set(done) == {"g0", "g1", 7}
    assert done["g1"]["extra"] == [1, 2] and done[7]["caption"].startswith("## Storyline")
    errors = {e["key"]: e for e in helpers.read(tmp_path / "out.errors.jsonl")}
    assert set(errors) == {'id:"missing"', 'id:"empty"', 'id:"trunc"', 'id:"junk"', "line:7", "line:8", "line:11"}
    assert all(e["error_type"] == "MediaError" for k, e in errors.items() if k.startswith("id:"))
    assert "nope.wav" in errors['id:"missing"']["error"]
    assert "empty.wav" in errors['id:"empty"']["error"]
    assert "truncated.wav" in errors['id:"trunc"']["error"]
    assert "invalid JSON" in errors["line:7"]["error"]
    assert "no media field" in errors["line:8"]["error"]
    assert "not UTF-8" in errors["line:11"]["error"]
    assert (summary.done, summary.failed, summary.invalid, summary.duplicates) == (3, 4, 3, 1)
    assert summary.exit_code == 1
    assert "line 9 repeats key" in report and "line 7" in report and "line 11" in report
    for name in ("nope.wav", "empty.wav", "truncated.wav", "notmedia.wav"):
        assert name in report


def test_media_root_resolves_relative_paths(tmp_path: Path, clip_dir: Path, helpers) -> None:
    manifest = helpers.manifest(tmp_path / "m.jsonl", [{"uuid": 1, "video_path": "./clip05.wav"}])
    with ChatServer() as server:
        config = BatchConfig(manifest, tmp_path / "o.jsonl", media_root=clip_dir, caption_field="predicted_caption")
        summary = run_batch(config, helpers.factory(helpers.settings(server.url)), io.StringIO())
    assert summary.done == 1
    (record,) = helpers.read(tmp_path / "o.jsonl")
    assert record["predicted_caption"].startswith("## Storyline") and "caption" not in record
