"""A batch run in its own process, for the crash test: ``python crash_worker.py MANIFEST OUT URL CACHE [EXECUTOR]``.

``EXECUTOR`` is ``local`` (default), ``processes`` (2 worker processes) or ``ray`` (2 actors on the Ray cluster
named by ``RAY_ADDRESS``).

Not a test module: the crash test starts it and kills it with SIGKILL at random moments.
"""

from __future__ import annotations

import sys
from pathlib import Path

from detective import logs
from detective.agent.batch import BatchConfig, run_batch
from detective.agent.detective import Detective
from detective.jobs.cache import SQLiteCache
from detective.llm.settings import Settings
from detective.testing.tools import ListenTool


def main() -> int:
    """Run the batch; exit with its exit code."""
    manifest, out, url, cache_path = sys.argv[1:5]
    executor = sys.argv[5] if len(sys.argv) > 5 else "local"
    logs.configure(level="ERROR")
    settings = Settings.from_env(env={}, api_key="sk-test-key", base_url=url, backoff=0.01, timeout=5.0)
    cache = SQLiteCache(cache_path)

    def factory() -> Detective:
        return Detective(tools=[ListenTool()], planner="llm", captioner="chat", settings=settings, cache=cache)

    options: dict = {"processes": {"processes": 2}, "ray": {"ray_actors": 2, "ray_actor_options": {"num_cpus": 0}}}
    config = BatchConfig(Path(manifest), Path(out), workers=8, executor=executor, **options.get(executor, {}))
    summary = run_batch(config, factory)
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main())
