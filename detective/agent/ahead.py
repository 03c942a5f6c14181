"""Opening the media of the clips next in line while earlier clips are captioned.

Before a Detective asks anything it opens its clip: a local file is probed in a thread, a URL is downloaded or
probed over the network. That is I/O, and at batch concurrency it sits at the start of every clip's critical
path, behind the event loop's other work (``benchmarks/upstream_baseline.py`` measured 12 ms a clip on loopback;
a remote store takes far longer). :class:`OpenAhead` opens a few queued clips early, so that a clip's turn starts
with its first question.

At most ``depth`` clips are open and not yet taken; a clip whose opening fails fails when its turn comes, with the
same error as when it opens itself. Downloads of clips never taken (a job interrupted) are removed by
:meth:`OpenAhead.close`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

import structlog

from detective.jobs import Item
from detective.media import discard_download
from detective.models import MediaInfo

log = structlog.get_logger("detective.batch")

#: Opens one clip's media by its source: :meth:`Detective.open_media <detective.agent.detective.Detective.open_media>`.
Opener = Callable[[str], Awaitable[MediaInfo]]


class OpenAhead:
    """The media of up to ``depth`` upcoming clips, opened before their turn (``depth`` 0: none).

    The job engine hints every item it queues (:meth:`upcoming`, in queue order); a clip's work takes its media
    with :meth:`take` (``None``: not opened ahead, the run opens it itself). Opening starts once an opener is known
    (:meth:`use`, given by the first Detective built), since how a clip is opened depends on its tools.
    """

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self._opener: Opener | None = None
        self._waiting: deque[Item] = deque()
        self._opening: dict[str, asyncio.Task[MediaInfo]] = {}

    def use(self, opener: Opener) -> None:
        """Open clips with ``opener`` (the first one given is kept) and start on those already hinted."""
        if self._opener is None:
            self._opener = opener
            self._fill()

    def upcoming(self, item: Item) -> None:
        """``item`` is queued: open its media early if fewer than ``depth`` clips are open and untaken."""
        if self.depth > 0 and item.source and item.key not in self._opening:
            self._waiting.append(item)
            self._fill()

    async def take(self, item: Item) -> MediaInfo | None:
        """``item``'s media opened ahead, or ``None`` when it was not (the caller opens it); raises what opening it
        raised. The caller owns the media from here (:func:`~detective.media.discard_download` when done)."""
        task = self._opening.pop(item.key, None)
        if task is None:  # never started: its run opens it, not a second opening here
            with contextlib.suppress(ValueError):
                self._waiting.remove(item)
            return None
        self._fill()  # its place is free for the next clip in line
        return await task  # cancelling the caller cancels the opening, which removes its download

    def _fill(self) -> None:
        while self._opener is not None and self._waiting and len(self._opening) < self.depth:
            item = self._waiting.popleft()
            self._opening[item.key] = asyncio.create_task(self._open(self._opener, item), name=f"open {item.label}")

    @staticmethod
    async def _open(opener: Opener, item: Item) -> MediaInfo:
        with structlog.contextvars.bound_contextvars(clip=item.label):
            return await opener(item.source)

    async def close(self) -> None:
        """Stop every opening and remove the downloads of clips opened but never taken."""
        self._waiting.clear()
        tasks, self._opening = list(self._opening.values()), {}
        for task in tasks:
            task.cancel()
        for media in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(media, MediaInfo):  # opened before the cancel reached it
                discard_download(media)
        if tasks:
            log.debug("clips opened ahead and not taken", clips=len(tasks))
