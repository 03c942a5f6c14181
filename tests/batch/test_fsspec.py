"""Clips, manifests and outputs on object storage: a real S3-compatible server (moto's server mode, 127.0.0.1),
read and written through fsspec and s3fs with credentials from the usual AWS_* environment, and the one source
rule of ``caption`` and ``run`` for every other scheme."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from detective.cli.app import cli
from detective.cli.run import run
from detective.media import MediaError, open_media, resolve_source, wav_bytes

BUCKET = "clips"


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free loopback port; its endpoint URL."""
    pytest.importorskip("s3fs")
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A fresh bucket on the server; the AWS_* environment points s3fs at it. Yields the s3fs file system."""
    import s3fs

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_server,
    }.items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem()
    fs.mkdir(BUCKET)
    yield fs
    fs.rm(BUCKET, recursive=True)
    s3fs.S3FileSystem.clear_instance_cache()


def _tone(seconds: float = 1.0, pitch: float = 440.0) -> bytes:
    t = np.arange(round(16000 * seconds)) / 16000.0
    return wav_bytes(0.3 * np.sin(2 * np.pi * pitch * t))


def test_open_media_reads_an_s3_clip(s3) -> None:
    s3.pipe(f"{BUCKET}/a/tone.wav", _tone(1.5))
    info = open_media(f"s3://{BUCKET}/a/tone.wav")
    try:
        assert info.source == f"s3://{BUCKET}/a/tone.wav" and info.has_audio and not info.has_video
        assert info.duration == pytest.approx(1.5, abs=1e-3)
        assert Path(info.path).read_bytes() == _tone(1.5)
    finally:
        from detective.media import discard_download

        discard_download(info)
    assert not Path(info.path).exists()


def test_a_missing_s3_object_names_the_clip(s3) -> None:
    with pytest.raises(MediaError, match=rf"^s3://{BUCKET}/nope.wav: not found"):
        open_media(f"s3://{BUCKET}/nope.wav")


def test_run_reads_manifest_and_clips_from_s3_and_writes_the_output_there(s3, tmp_path: Path) -> None:
    for i in range(3):
        s3.pipe(f"{BUCKET}/set/media/clip{i}.wav", _tone(1.0, 300.0 + 50 * i))
    records = [{"id": i, "path": f"media/clip{i}.wav"} for i in range(3)]  # relative: beside the manifest
    records.append({"id": 9, "url": f"s3://{BUCKET}/set/media/absent.wav"})
    s3.pipe(f"{BUCKET}/set/manifest.jsonl", "".join(json.dumps(r) + "\n" for r in records).encode())
    args = ["--input", f"s3://{BUCKET}/set/manifest.jsonl", "--output", f"s3://{BUCKET}/out/captions.jsonl"]
    args += ["--work-dir", str(tmp_path / "work"), "--offline", "--tools", "audio_events", "--no-progress"]
    first = CliRunner().invoke(run, args)
    assert first.exit_code == 1, first.stderr  # the absent clip failed
    assert "3 done, 1 failed" in first.stderr
    written = [json.loads(line) for line in s3.cat(f"{BUCKET}/out/captions.jsonl").decode().splitlines()]
    assert sorted(r["id"] for r in written) == [0, 1, 2]
    assert all(r["media"]["source"].startswith(f"s3://{BUCKET}/set/media/clip") for r in written)
    errors = [json.loads(line) for line in s3.cat(f"{BUCKET}/out/captions.errors.jsonl").decode().splitlines()]
    assert [(e["id"], e["retryable"]) for e in errors] == [(9, False)] and "not found" in errors[0]["error"]

    # a run from an empty working folder resumes from what is in the bucket: nothing is captioned twice
    s3.pipe(f"{BUCKET}/set/media/absent.wav", _tone(0.5))
    # (the clip failed permanently: --retry-failed asks for it again)
    second = CliRunner().invoke(
        run, [*args[:4], "--work-dir", str(tmp_path / "elsewhere"), *args[6:], "--retry-failed"]
    )
    assert second.exit_code == 0, second.stderr
    assert "1 done, 0 failed" in second.stderr
    written = [json.loads(line) for line in s3.cat(f"{BUCKET}/out/captions.jsonl").decode().splitlines()]
    assert sorted(r["id"] for r in written) == [0, 1, 2, 9]
    assert not s3.exists(f"{BUCKET}/out/captions.errors.jsonl")  # nothing failed any more


def test_one_source_rule_for_caption_and_run(tmp_path: Path) -> None:
    assert resolve_source("file:///etc/hosts") == "/etc/hosts"
    assert resolve_source("clips/a.wav", "s3://b/set") == "s3://b/set/clips/a.wav"
    assert resolve_source("./a.wav", tmp_path) == str(tmp_path / "a.wav")
    for url in ("s3://b/a.wav", "gs://b/a.wav", "az://c/a.wav", "ftp://h/a.wav", "data:audio/wav;base64,AA"):
        assert resolve_source(url) == url
    with pytest.raises(MediaError, match=r"^xyz://h/a.wav: unsupported scheme 'xyz:'"):
        resolve_source("xyz://h/a.wav")
    # a data: URL is read through fsspec like any other; an unreachable store is a retryable failure
    import base64

    info = open_media("data:audio/wav;base64," + base64.b64encode(_tone(0.5)).decode())
    assert info.duration == pytest.approx(0.5, abs=1e-3)
    from detective.media import discard_download

    discard_download(info)
    with pytest.raises(MediaError, match=r"^ftp://127.0.0.1:1/a.wav: cannot be read") as refused:
        open_media("ftp://127.0.0.1:1/a.wav")
    assert refused.value.retryable

    # caption: the message names the clip once
    missing = CliRunner().invoke(cli, ["caption", f"file://{tmp_path}/gone.wav", "--offline"])
    assert missing.exit_code == 1
    assert missing.output.count(f"{tmp_path}/gone.wav") == 1 and "file not found" in missing.output
    unsupported = CliRunner().invoke(cli, ["caption", "xyz://h/a.wav", "--offline"])
    assert unsupported.exit_code == 1 and "unsupported scheme 'xyz:'" in unsupported.output

    # run: the same rule, an unsupported scheme is an invalid line naming the clip; file:// is read
    clip = tmp_path / "tone.wav"
    clip.write_bytes(_tone(0.5))
    records = [{"id": 1, "url": "xyz://h/a.wav"}, {"id": 2, "url": clip.as_uri()}]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = CliRunner().invoke(
        run, ["--input", str(manifest), "--output", str(tmp_path / "o.jsonl"), "--offline", "--tools", "audio_events"]
    )
    assert result.exit_code == 1
    assert "line 1: id=1: xyz://h/a.wav: unsupported scheme 'xyz:'" in result.stderr
    assert "1 done, 0 failed" in result.stderr
