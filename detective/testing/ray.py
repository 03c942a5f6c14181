"""A Ray for tests: on this machine, bound to 127.0.0.1 only, no dashboard, no usage statistics."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import types
from collections.abc import Iterable, Iterator
from pathlib import Path


def ship_by_value(modules: Iterable[types.ModuleType]) -> None:
    """Pickle what ``modules`` define by value, so Ray workers that cannot import them (tests) still run it."""
    from ray import cloudpickle

    for module in modules:
        with contextlib.suppress(ValueError):
            cloudpickle.register_pickle_by_value(module)


@contextlib.contextmanager
def ray_for_tests(num_cpus: int = 2, test_modules: Iterable[types.ModuleType] = ()) -> Iterator[str]:
    """Start a loopback-only Ray for the block (yields its address) and shut it down afterwards.

    Ray's driver replaces ``builtins.print`` with its progress-bar-safe print once a worker's output reaches it;
    the block asks it not to, and the original ``print`` is back afterwards either way, so later tests in the
    same process see the real one.
    """
    import builtins

    import ray

    from detective.jobs.ray_executor import init_local_ray, stop_local_ray

    original_print = builtins.print
    patch_print = os.environ.get("RAY_TQDM_PATCH_PRINT")
    os.environ["RAY_TQDM_PATCH_PRINT"] = "0"
    try:
        if ray.is_initialized():
            ray.shutdown()
        init_local_ray(num_cpus=num_cpus)
        ship_by_value(test_modules)
        try:
            yield ray.get_runtime_context().gcs_address
        finally:
            stop_local_ray()
    finally:
        builtins.print = original_print
        if patch_print is None:
            os.environ.pop("RAY_TQDM_PATCH_PRINT", None)
        else:
            os.environ["RAY_TQDM_PATCH_PRINT"] = patch_print


def listening_addresses(root_pid: int) -> set[str]:
    """Every ``host:port`` a TCP socket of ``root_pid`` or one of its descendants listens on (from /proc)."""
    pids = _descendants(root_pid) | {root_pid}
    inodes: set[str] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    found: set[str] = set()
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    found.add(_address(fields[1], v6))
    return found


def _address(hex_address: str, v6: bool) -> str:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    if v6:
        address = ipaddress.IPv6Address(b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
        text = str(address.ipv4_mapped or address)
    else:
        text = ".".join(str(b) for b in raw[::-1])
    return f"{text}:{int(port, 16)}"


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found
