"""Clips opened ahead of their turn (:class:`~detective.agent.ahead.OpenAhead`): bounded, in order, each opened
once, failures kept for the clip's turn, and no download left behind, whether the job ends or is interrupted."""

from __future__ import annotations

import asyncio
import io
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from detective.agent.ahead import OpenAhead
from detective.jobs import Item
from detective.media import DOWNLOAD_PREFIX, MediaError
from detective.models import MediaInfo

from .conftest import read_jsonl, write_manifest


def _item(i: int) -> Item:
    return Item(line=i + 1, key=f"k{i}", record={"id": i}, source=f"clip{i}.wav")


class _Opener:
    """Opens a source when the test lets it; records how many were opening at once and in what order."""

    def __init__(self, fail: set[str] | None = None) -> None:
        self.started: list[str] = []
        self.opening = 0
        self.most = 0
        self.go = asyncio.Event()
        self.fail = fail or set()

    async def __call__(self, source: str) -> MediaInfo:
        self.started.append(source)
        self.opening += 1
        self.most = max(self.most, self.opening)
        try:
            await self.go.wait()
        finally:
            self.opening -= 1
        if source in self.fail:
            raise MediaError(f"{source}: not a media file")
        return MediaInfo(source=source, path=source, duration=1.0, has_audio=True)


def test_at_most_depth_clips_are_opened_ahead_in_queue_order() -> None:
    async def main() -> None:
        ahead, opener = OpenAhead(depth=2), _Opener()
        items = [_item(i) for i in range(5)]
        for item in items:
            ahead.upcoming(item)  # hinted before any opener: nothing starts yet
        await asyncio.sleep(0)
        assert opener.started == []
        ahead.use(opener)
        await asyncio.sleep(0)
        assert opener.started == ["clip0.wav", "clip1.wav"]  # the first two, not all five
        opener.go.set()
        assert (await ahead.take(items[0])).source == "clip0.wav"
        await asyncio.sleep(0)
        assert opener.started == ["clip0.wav", "clip1.wav", "clip2.wav"]  # taking one lets the next start
        for item in items[1:]:
            media = await ahead.take(item)
            assert media is not None and media.source == item.source
        assert opener.most <= 2 and len(opener.started) == 5  # every clip opened once

    asyncio.run(main())


def test_a_clip_not_opened_ahead_is_left_to_its_run_and_a_failure_waits_for_its_turn() -> None:
    async def main() -> None:
        ahead, opener = OpenAhead(depth=1), _Opener(fail={"clip0.wav"})
        ahead.use(opener)
        first, second, stranger = _item(0), _item(1), _item(9)
        ahead.upcoming(first)
        ahead.upcoming(second)  # waits behind the first (depth 1)
        assert await ahead.take(stranger) is None  # never hinted
        assert await ahead.take(second) is None  # not started yet: its run opens it, not a second opener
        opener.go.set()
        with pytest.raises(MediaError, match=r"clip0\.wav: not a media file"):
            await ahead.take(first)
        assert opener.started == ["clip0.wav"]
        assert OpenAhead(depth=0).depth == 0

    asyncio.run(main())


def test_close_stops_the_openings_and_removes_untaken_downloads(tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix=DOWNLOAD_PREFIX))  # a download as the opener makes one
    (folder / "download.wav").write_bytes(b"RIFF")

    async def main() -> None:
        opened = asyncio.Event()

        async def opener(source: str) -> MediaInfo:
            if source == "clip0.wav":
                opened.set()
                return MediaInfo(source="http://127.0.0.1:9/x.wav", path=str(folder / "download.wav"), duration=1.0)
            await asyncio.sleep(3600)  # a download still running
            raise AssertionError("not cancelled")

        ahead = OpenAhead(depth=3)
        ahead.use(opener)
        for i in range(3):
            ahead.upcoming(_item(i))
        await opened.wait()
        await asyncio.sleep(0)
        await asyncio.wait_for(ahead.close(), 5)
        assert all(t.done() for t in asyncio.all_tasks() if t is not asyncio.current_task())

    asyncio.run(main())
    assert not folder.exists()


def _served(root: Path, hits: Counter[str]) -> Any:
    """The files of ``root`` on 127.0.0.1, counting the requests for each path."""
    from aiohttp import web
    from detective_testserver import AppServer

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        hits[request.path] += 1
        return await handler(request)

    app = web.Application(middlewares=[count])
    app.router.add_static("/", root)
    return AppServer(app)


@pytest.mark.parametrize("open_ahead", [None, 0])
def test_a_batch_of_urls_downloads_each_clip_once_and_leaves_nothing_behind(
    tmp_path: Path, clip_dir: Path, monkeypatch: pytest.MonkeyPatch, open_ahead: int | None
) -> None:
    from detective.agent.batch import BatchConfig, job_config, make_executor
    from detective.agent.detective import Detective
    from detective.jobs import Job
    from detective.testing.fakes import ASRTool

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where downloads go, for this test alone
    hits: Counter[str] = Counter()
    with _served(clip_dir, hits) as files:
        records = [{"id": i, "url": f"{files.base}/clip{i:02d}.wav"} for i in range(12)]
        records.insert(5, {"id": "gone", "url": f"{files.base}/missing.wav"})
        manifest = write_manifest(tmp_path / "in.jsonl", records)
        config = BatchConfig(manifest, tmp_path / "out.jsonl", workers=3, open_ahead=open_ahead)

        def factory() -> Detective:  # ASR needs a local copy: every clip is downloaded
            return Detective(tools=[ASRTool()], planner="rule", captioner="evidence", offline=True)

        summary = asyncio.run(Job(job_config(config), make_executor(config, factory), io.StringIO()).run())
    assert (summary.done, summary.failed) == (12, 1)
    out = read_jsonl(tmp_path / "out.jsonl")
    assert sorted(r["id"] for r in out) == list(range(12))
    assert all(r["caption"] for r in out)
    errors = read_jsonl(config.errors_path)
    assert [e["id"] for e in errors] == ["gone"] and "missing.wav" in errors[0]["error"]
    assert all(hits[f"/clip{i:02d}.wav"] == 1 for i in range(12)), hits  # opened ahead or not: once each
    assert list(scratch.iterdir()) == []  # every download removed after its clip


def test_an_interrupted_batch_leaves_no_download_opened_ahead(
    tmp_path: Path, clip_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from detective.agent.batch import BatchConfig, job_config, make_executor
    from detective.agent.detective import Detective
    from detective.jobs import Job
    from detective.testing.fakes import ASRTool

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with _served(clip_dir, Counter()) as files:
        records = [{"id": i, "url": f"{files.base}/clip{i:02d}.wav"} for i in range(30)]
        config = BatchConfig(write_manifest(tmp_path / "in.jsonl", records), tmp_path / "out.jsonl", workers=2)

        class SlowASR(ASRTool):
            async def observe(self, media: MediaInfo, query: Any) -> list[Any]:  # type: ignore[override]
                await asyncio.sleep(0.5)  # the clips in flight stay busy while the next ones are opened ahead
                return ASRTool.observe(self, media, query)

        def factory() -> Detective:
            return Detective(tools=[SlowASR()], planner="rule", captioner="evidence", offline=True)

        async def main() -> None:
            job = Job(job_config(config), make_executor(config, factory), io.StringIO())
            run = asyncio.create_task(job.run())
            # some clips done; two in flight with their downloads, two more downloaded ahead and waiting
            while job.summary.done < 3 or len(list(scratch.iterdir())) < 4:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)  # the downloads ahead finish (a few ms) while the clips in flight wait
            run.cancel()
            with pytest.raises(asyncio.CancelledError):
                await run

        asyncio.run(asyncio.wait_for(main(), 120))
    done = read_jsonl(tmp_path / "out.jsonl")
    assert 3 <= len(done) < 30 and len({r["id"] for r in done}) == len(done)
    assert list(scratch.iterdir()) == []
