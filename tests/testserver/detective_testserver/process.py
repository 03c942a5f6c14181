"""A server command run as a subprocess on a free 127.0.0.1 port, for tests that need a real server process
(``langgraph dev`` for Studio, llama-cpp-python's OpenAI server for the real-model smoke test)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx


class ServerStartError(RuntimeError):
    """The server process exited, or did not answer its health check in time (the message ends with its log)."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


@contextlib.contextmanager
def server_process(
    command: Callable[[int], list[str]],
    *,
    name: str,
    health: str,
    log: Path,
    deadline: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    interval: float = 0.5,
) -> Iterator[str]:
    """Run ``command(port)`` on a free port, wait until ``GET <base><health>`` answers 200 and yield the base URL
    (``http://127.0.0.1:PORT``); on exit terminate it (kill after 20 s). Its output goes to ``log``.

    :raises ServerStartError: the process exited first, or did not answer within ``deadline`` seconds.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen(command(port), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + deadline
        while True:
            if proc.poll() is not None:
                raise ServerStartError(f"{name} exited with {proc.returncode}:\n{_tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + health, timeout=2.0).status_code == 200:
                    break
            if time.monotonic() > end:
                raise ServerStartError(f"{name} did not answer within {deadline:.0f} s:\n{_tail(log)}")
            time.sleep(interval)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
