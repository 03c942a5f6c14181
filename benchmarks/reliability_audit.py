"""Reliability audit: kill -9 and resume, faults against the meter, and stop signals, per executor. Prints tables.

    python benchmarks/reliability_audit.py [--executors local,processes,ray] [--kills 3] [--clips 40]
                                           [--fault-rate 0.3] [--signals SIGINT,SIGTERM]

Each run is a real ``omni-detective``-style batch in a process of its own (this script with ``--worker``): 40 short
tone clips, the ``listen`` tool, the LLM planner and the chat captioner against the loopback test server
(``detective_testserver``, 127.0.0.1 only, 50 ms a reply). A Ray run starts its own local Ray (nothing joins a
cluster), and every process a run starts carries a marker variable, so processes left behind are counted by that
marker, never confused with another program's.

- **kill -9**: a run is killed with SIGKILL at a random moment after its first record, ``--kills`` times, then run
  once more to the end. *torn*: kills that left a partial last line (repaired by the next run); *lost* and
  *duplicated*: clips missing from, or written twice in, the final output; *tmp*: ``.tmp`` files left beside it;
  *left 5 s*: processes of a killed run alive 5 s after the kill (worker processes, Ray actors and agents);
  *gone after*: seconds until the last of them exited.
- **faults**: one run with ``--fault-rate`` of the replies failing (429, 500, timeouts, malformed, cut short);
  *meter/server*: LLM calls the run's summary counted over the requests the server answered (1.00 means every
  attempt, retried or not, is metered); *saved wrong*: records whose caption is not the scripted one.
- **signals**: a run stopped with SIGINT or SIGTERM once it has written a record, while four clips given by URL
  are still downloading (from a loopback server that never finishes): exit code, seconds from the signal to the
  exit, processes and partial downloads (``omni-detective-*`` temporary folders) left behind.
- **full**: the output on a 64 KB tmpfs (where the script may mount one): exit code, whether it hung, *seconds*
  from start to exit, of which *first record s* to the first record (Ray's start, mostly) and *exit after full s*
  from the last record written (the disk was full at the next) to the exit; a torn last line, ``.tmp`` files, and
  whether the message names the file and the free space.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

MARK = "OMNI_DETECTIVE_AUDIT_RUN"


# --- the worker (a batch run in its own process) -------------------------------------------------------------


def worker(manifest: str, out: str, url: str, executor: str) -> int:
    """One batch run against the loopback server; exits with the run's exit code (the CLI's, for signals)."""
    from detective import logs
    from detective.agent.batch import BatchConfig, run_batch
    from detective.agent.detective import Detective
    from detective.cli import exits
    from detective.jobs.jsonl import DiskFullError
    from detective.llm.settings import Settings
    from detective.testing.tools import ListenTool

    exits.install()  # as the command line does
    logs.configure(level="ERROR")
    settings = Settings.from_env(env={}, api_key="sk-test-key", base_url=url, backoff=0.01, timeout=5.0)

    def factory() -> Detective:
        return Detective(tools=[ListenTool()], planner="llm", captioner="chat", settings=settings)

    options: dict[str, Any] = {
        "processes": {"processes": 2},
        "ray": {"ray_actors": 2, "ray_actor_options": {"num_cpus": 0}},
    }
    config = BatchConfig(Path(manifest), Path(out), workers=8, executor=executor, **options.get(executor, {}))
    try:
        summary = run_batch(config, factory)
    except KeyboardInterrupt:
        exits.hard_exit(exits.exit_code())
    except DiskFullError as exc:  # as ``omni-detective run`` reports it
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return summary.exit_code


# --- the auditor ---------------------------------------------------------------------------------------------


def _clips(folder: Path, n: int) -> Path:
    import numpy as np

    from detective.media import wav_bytes

    t = np.arange(8000) / 16000.0
    records = []
    for i in range(n):
        path = folder / f"clip{i:02d}.wav"
        path.write_bytes(wav_bytes(0.3 * np.sin(2 * np.pi * (220.0 + 15.0 * i) * t)))
        records.append({"id": i, "path": str(path)})
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records))
    return manifest


def _marked(mark: str, folder: Path | None = None) -> list[int]:
    """Live processes carrying ``mark`` in their environment, or holding a file open under ``folder`` (the run's
    temporary folder, where its Ray session lives: Ray's agents write their process title over their environment,
    so the mark alone misses them). A zombie runs nothing and is not counted."""
    needle = f"{MARK}={mark}".encode()
    root = str(folder.resolve()) + "/" if folder is not None else None
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] in {"Z", "X"}:
                continue
            if needle in (entry / "environ").read_bytes().split(b"\0") or (
                root is not None and any(os.readlink(fd).startswith(root) for fd in (entry / "fd").iterdir())
            ):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _temp(kind: str) -> Path:
    """A short private temporary folder for one run: Ray's session sockets must fit in 107 characters."""
    return Path(tempfile.mkdtemp(prefix=f"ra-{kind[:8]}-", dir="/tmp"))


def _start(args: list[str], mark: str, temp: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAY_ADDRESS"))}
    env.update({MARK: mark, "TMPDIR": str(temp), "PYTHONUNBUFFERED": "1"})
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _wait_written(proc: subprocess.Popen[bytes], out: Path, before: int, deadline: float = 180.0) -> bool:
    end = time.monotonic() + deadline
    while _lines(out) == before and proc.poll() is None and time.monotonic() < end:
        time.sleep(0.01)
    return proc.poll() is None


def _leftovers(mark: str, folder: Path, wait: float = 60.0) -> tuple[int, float]:
    """Processes of ``mark`` (or with files open under ``folder``) alive 5 s from now, and seconds until none is
    (capped at ``wait``)."""
    started = time.monotonic()
    at5: int | None = None
    while True:
        alive = _marked(mark, folder)
        elapsed = time.monotonic() - started
        if at5 is None and elapsed >= 5.0:
            at5 = len(alive)
        if not alive:
            return (at5 or 0), round(elapsed, 2)
        if elapsed > wait:
            return (at5 or len(alive)), float("inf")
        time.sleep(0.1)


def _records(out: Path) -> list[dict[str, Any]]:
    from detective.jobs.jsonl import iter_records

    return [record for _number, record in iter_records(out, strict=True)]


def audit_kills(executor: str, kills: int, folder: Path, manifest: Path, n: int, seed: int) -> dict[str, Any]:
    from detective_testserver import ChatServer

    rng = random.Random(seed)
    out = folder / f"kill-{executor}.jsonl"
    row: dict[str, Any] = {"executor": executor, "kills": 0, "torn": 0, "left 5 s": 0, "gone after": 0.0}
    with ChatServer(latency=0.05) as server:
        args = [sys.executable, __file__, "--worker", str(manifest), str(out), server.url, executor]
        for _ in range(kills):
            mark = uuid.uuid4().hex
            temp = _temp("kill")
            before = _lines(out)
            proc = _start(args, mark, temp)
            if _wait_written(proc, out, before):
                time.sleep(rng.uniform(0.0, 0.25))
                proc.send_signal(signal.SIGKILL)
                row["kills"] += 1
            proc.wait(timeout=120)
            assert proc.stderr is not None
            proc.stderr.close()
            row["torn"] += int(out.exists() and out.stat().st_size > 0 and not out.read_bytes().endswith(b"\n"))
            left, gone = _leftovers(mark, temp)
            row["left 5 s"] = max(row["left 5 s"], left)
            row["gone after"] = max(row["gone after"], gone)
        mark = uuid.uuid4().hex
        final = _start(args, mark, _temp("kill"))
        _, err = final.communicate(timeout=600)
    ids = [r["id"] for r in _records(out)]
    row.update(
        {
            "lost": n - len(set(ids)),
            "duplicated": len(ids) - len(set(ids)),
            "tmp": len(list(folder.glob("*.tmp"))),
            "final exit": final.returncode,
            "repaired": "repaired" in err.decode(errors="replace"),
        }
    )
    return row


def audit_faults(executor: str, rate: float, folder: Path, manifest: Path, n: int) -> dict[str, Any]:
    from detective_testserver import ChatServer, Faults

    out = folder / f"faults-{executor}.jsonl"
    temp = _temp("faults")
    faults = Faults(rate=rate, kinds=("429", "500", "timeout", "malformed", "truncated"), timeout_sleep=6.0)
    with ChatServer(latency=0.05, faults=faults, seed=7) as server:
        args = [sys.executable, __file__, "--worker", str(manifest), str(out), server.url, executor]
        rounds = 0
        metered = 0
        while rounds < 4:  # failed clips are retried by the next run, as a user would
            proc = _start(args, uuid.uuid4().hex, temp)
            _, err = proc.communicate(timeout=900)
            text = err.decode(errors="replace")
            metered += sum(_metered(line) for line in text.splitlines())
            rounds += 1
            if proc.returncode == 0:
                break
        served = server.stats.requests
    records = _records(out)
    wrong = sum(1 for r in records if not str(r.get("caption", "")).startswith("## Storyline"))
    return {
        "executor": executor,
        "fault rate": rate,
        "runs": rounds,
        "done": len({r["id"] for r in records}),
        "of": n,
        "server calls": served,
        "metered": metered,
        "meter/server": round(metered / served, 3) if served else None,
        "saved wrong": wrong,
    }


def _metered(line: str) -> int:
    """LLM calls a run's summary line reports (``LLM calls 120 (+0 from cache)``)."""
    line = line.strip()
    if not line.startswith("LLM calls "):
        return 0
    return int(line.split()[2])


def audit_signal(executor: str, sig: signal.Signals, folder: Path, manifest: Path) -> dict[str, Any]:
    from detective_testserver import ChatServer

    out = folder / f"sig-{executor}-{sig.name}.jsonl"
    temp = _temp("sig")
    mark = uuid.uuid4().hex
    with ChatServer(latency=0.05) as server, Trickle() as media:
        # four clips whose downloads never finish, then the local ones: downloads are in flight at the signal
        urls = [{"id": 1000 + i, "url": f"{media.base}/slow{i}.wav"} for i in range(4)]
        mixed = folder / f"mixed-{executor}-{sig.name}.jsonl"
        mixed.write_text("".join(json.dumps(r) + "\n" for r in urls) + manifest.read_text())
        args = [sys.executable, __file__, "--worker", str(mixed), str(out), server.url, executor]
        proc = _start(args, mark, temp)
        _wait_written(proc, out, 0)
        proc.send_signal(sig)
        sent = time.monotonic()
        _, err = proc.communicate(timeout=120)
        seconds = time.monotonic() - sent
    left, _ = _leftovers(mark, temp, wait=30.0)
    text = err.decode(errors="replace")
    downloads = [p for p in temp.rglob("omni-detective-*") if p.is_dir()]
    return {
        "executor": executor,
        "signal": sig.name,
        "exit": proc.returncode,
        "seconds to exit": round(seconds, 2),
        "left 5 s": left,
        "downloads started": media.started,
        "partial downloads left": len(downloads),
        "traceback/abort": "Traceback" in text or "terminate called" in text,
        "records kept": _lines(out),
    }


def audit_full_disk(executor: str, folder: Path, manifest: Path) -> dict[str, Any]:
    """The output on a 64 KB tmpfs (mounted where this process may, as root): the run must stop at once."""
    from detective_testserver import ChatServer

    mount = folder / f"small-{executor}"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True)
    if mounted.returncode != 0:
        return {"executor": executor, "full disk": "cannot mount a tmpfs here (needs root)"}
    try:
        out = mount / "out.jsonl"
        temp = _temp("full")
        log = temp / "stderr.log"
        first: float | None = None
        with ChatServer(latency=0.05) as server, log.open("wb") as stderr:
            args = [sys.executable, __file__, "--worker", str(manifest), str(out), server.url, executor]
            env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAY_ADDRESS"))}
            env.update({MARK: uuid.uuid4().hex, "TMPDIR": str(temp), "PYTHONUNBUFFERED": "1"})
            proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
            started = time.monotonic()
            hung = False
            while proc.poll() is None:
                if first is None and _lines(out):
                    first = time.monotonic() - started
                if time.monotonic() - started > 300:
                    proc.kill()
                    proc.wait()
                    hung = True
                time.sleep(0.02)
            ended = time.time()
            seconds = time.monotonic() - started
        err = log.read_bytes()
        # the last record written is the file's last change: from there to the exit is the time to stop
        after_full = ended - out.stat().st_mtime if out.exists() and _lines(out) else None
        text = err.decode(errors="replace")
        message = next((line for line in text.splitlines() if "file system is full" in line), "")
        data = out.read_bytes() if out.exists() else b""
        return {
            "executor": executor,
            "exit": proc.returncode,
            "hung": hung,
            "seconds": round(seconds, 1),
            "first record s": round(first, 1) if first is not None else None,
            "exit after full s": round(after_full, 2) if after_full is not None else None,
            "records": data.count(b"\n"),
            "torn": bool(data) and not data.endswith(b"\n"),
            "tmp": len(list(mount.glob("*.tmp"))),
            "names file and free space": str(out) in message and "bytes free" in message,
            "traceback": "Traceback" in text,
        }
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


class Trickle:
    """A loopback media server whose clips never finish downloading (a byte every 50 ms of a megabyte)."""

    def __init__(self) -> None:
        from detective_testserver import AppServer

        self.started = 0
        outer = self

        class _App(AppServer):
            def make_app(self) -> Any:
                from aiohttp import web

                app = web.Application()
                app.router.add_get("/{name}", outer._slow)
                return app

        self._server = _App()

    async def _slow(self, request: Any) -> Any:
        import asyncio
        import contextlib

        from aiohttp import web

        self.started += 1
        response = web.StreamResponse(headers={"Content-Type": "audio/wav"})
        response.content_length = 1_000_000
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            while True:
                await response.write(b"\0")
                await asyncio.sleep(0.05)
        return response

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self._server.base

    def __enter__(self) -> Trickle:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(none)"
    keys = list(rows[0])
    cells = [[str(r.get(k, "")) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    line = "| " + " | ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    return "\n".join([line, rule, *body])


def main() -> None:
    """Parse the options, run the audits, print the tables."""
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        sys.exit(worker(*sys.argv[2:6]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executors", default="local,processes,ray")
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--signals", default="SIGINT,SIGTERM")
    parser.add_argument("--skip", default="", help="comma list of parts to skip: kills, faults, signals, full")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    executors = [e for e in args.executors.split(",") if e]
    skip = set(args.skip.split(","))
    kills, faults, signals, full = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="reliability-audit-") as tmp:
        folder = Path(tmp)
        manifest = _clips(folder, args.clips)
        for executor in executors:
            if "kills" not in skip:
                kills.append(audit_kills(executor, args.kills, folder, manifest, args.clips, args.seed))
            if "faults" not in skip:
                faults.append(audit_faults(executor, args.fault_rate, folder, manifest, args.clips))
            if "signals" not in skip:
                for name in args.signals.split(","):
                    signals.append(audit_signal(executor, signal.Signals[name], folder, manifest))
            if "full" not in skip:
                full.append(audit_full_disk(executor, folder, manifest))
    print("kill -9, then resume\n" + _table(kills) + "\n")
    print(f"faults ({args.fault_rate:.0%} of replies)\n" + _table(faults) + "\n")
    print("stop signals\n" + _table(signals) + "\n")
    print("output on a full file system (64 KB tmpfs)\n" + _table(full))


if __name__ == "__main__":
    main()
