"""The finished-keys index: used on resume, caught up after a crash, rebuilt when missing or wrong."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from detective.jobs import OutputFile, output_key


def _write(path: Path, keys: range) -> None:
    path.write_text("".join(json.dumps({"id": i, "caption": "c"}) + "\n" for i in keys))


def _open(path: Path) -> tuple[OutputFile, object]:
    output = OutputFile(path, output_key)
    return output, output.open()


def test_index_is_built_then_used_without_parsing_the_output(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    _write(out, range(5))
    output, scan = _open(out)
    output.close()
    assert scan.index == "rebuilt" and scan.done == {f"id:{i}" for i in range(5)} and scan.scanned_lines == 5
    assert (tmp_path / "o.keys").exists()
    output, scan = _open(out)
    output.close()
    assert scan.index == "used" and scan.scanned_lines == 0 and len(scan.done) == 5


def test_appends_are_indexed_and_a_crash_between_output_and_index_is_caught_up(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    output, _ = _open(out)
    for i in range(3):
        asyncio.run(output.append({"id": i, "caption": "c"}, f"id:{i}"))
    output.close()
    # a record that reached the output but not the index (killed between the two writes), and a torn line
    with out.open("a") as fh:
        fh.write(json.dumps({"id": 3, "caption": "c"}) + "\n" + '{"id": 4, "capt')
    output, scan = _open(out)
    output.close()
    assert scan.index == "used" and scan.scanned_lines == 1 and scan.torn_bytes > 0
    assert scan.done == {f"id:{i}" for i in range(4)}
    output, scan = _open(out)
    output.close()
    assert scan.scanned_lines == 0 and len(scan.done) == 4


def test_an_index_that_does_not_match_the_output_is_rebuilt(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    _write(out, range(4))
    _open(out)[0].close()
    # the output replaced by another file: a different inode
    replacement = tmp_path / "other.jsonl"
    _write(replacement, range(2))
    replacement.replace(out)
    output, scan = _open(out)
    output.close()
    assert scan.index == "rebuilt" and scan.done == {"id:0", "id:1"}
    # the output cut short in place: the index claims more than the file holds
    with out.open("r+b") as fh:
        fh.truncate(len(out.read_bytes().splitlines(keepends=True)[0]))
    output, scan = _open(out)
    output.close()
    assert scan.index == "rebuilt" and scan.done == {"id:0"}
    # a damaged index
    (tmp_path / "o.keys").write_bytes(b"\xff\xfe garbage")
    output, scan = _open(out)
    output.close()
    assert scan.index == "rebuilt" and scan.done == {"id:0"}


def test_drop_rewrites_output_and_index(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    out.write_text(
        "".join(json.dumps({"uuid": i, "judge": {"failed": i == 1}}) + "\n" for i in range(3)) + "not json\n"
    )
    output = OutputFile(out, lambda r: output_key(r, ("judge",)))
    scan = output.open(drop=lambda r: r["judge"]["failed"])
    output.close()
    assert scan.done == {"uuid:0", "uuid:2"} and scan.dropped == 1 and scan.bad_lines == [4]
    assert [json.loads(x)["uuid"] for x in out.read_text().splitlines()] == [0, 2]
    output, scan = _open(out)
    output.close()
    assert scan.index == "used" and scan.done == {"uuid:0", "uuid:2"}
