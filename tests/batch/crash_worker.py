"""A batch run in its own process, for the crash test: ``python crash_worker.py MANIFEST OUT BASE_URL CACHE [N]``.

``N`` is the number of worker processes (default 1).

Not a test module: the crash test starts it and kills it with SIGKILL at random moments.
"""

from __future__ import annotations

import sys
from pathlib import Path

from detective import logs
from detective.batch import BatchConfig, run_batch
from detective.cache import SQLiteCache
from detective.detective import Detective
from detective.settings import Settings
from detective.testing.tools import ListenTool


def main() -> int:
    """Run the batch; exit with its exit code."""
    manifest, out, url, cache_path = sys.argv[1:5]
    processes = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    logs.configure(level="ERROR")
    settings = Settings.from_env(env={}, api_key="sk-test-key", base_url=url, backoff=0.01, timeout=5.0)
    cache = SQLiteCache(cache_path)

    def factory() -> Detective:
        return Detective(tools=[ListenTool()], planner="llm", captioner="chat", settings=settings, cache=cache)

    summary = run_batch(BatchConfig(Path(manifest), Path(out), workers=8, processes=processes), factory)
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main())
