"""Manifests and outputs at fsspec URLs (``s3://``, ``gs://``, ``az://`` …): a local working copy of each.

The job engine appends whole fsynced lines, keeps an index and a lock beside its output: things an object store
cannot do. So a job whose manifest or output is a URL runs on local copies in a working folder (one per output
URL, under ``~/.cache/omni-detective/remote`` unless given): :meth:`RemoteJobFiles.fetch` copies the manifest and
any output and errors file already at the URLs (so a run resumes where the last one stopped, wherever it ran),
:meth:`RemoteJobFiles.publish` copies the output and the errors file back at the end of the run, interrupted or
not. Credentials come from the usual environment of each fsspec backend (``AWS_*``, ``GOOGLE_*``, ``AZURE_*``).
The one-writer lock covers runs on this machine only.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from detective.jobs.output import sidecar_path
from detective.media import is_remote, resolve_source

#: Where working copies live unless a folder is given.
DEFAULT_WORK_ROOT = Path("~/.cache/omni-detective/remote")


def url_folder(url: str) -> str:
    """The folder part of a URL (``s3://b/sets/m.jsonl`` → ``s3://b/sets``): where its relative paths lead."""
    return posixpath.dirname(url.rstrip("/"))


def _copy(src: str, dst: str) -> None:
    import fsspec

    with fsspec.open(src, "rb") as fin, fsspec.open(dst, "wb") as fout:
        while block := fin.read(1 << 20):
            fout.write(block)


def _exists(url: str) -> bool:
    import fsspec

    fs, path = fsspec.core.url_to_fs(url)
    return bool(fs.exists(path))


@dataclass
class RemoteJobFiles:
    """The local paths a job runs on for a manifest and an output that may be URLs."""

    input: str
    output: str
    work_dir: Path | None = None
    local_input: Path = field(init=False)
    local_output: Path = field(init=False)

    def __post_init__(self) -> None:
        for source in (self.input, self.output):
            resolve_source(source)  # an unsupported scheme is refused here, naming the location
        if self.work_dir is None and self.any_remote:
            digest = hashlib.sha1(f"{self.input}\n{self.output}".encode()).hexdigest()[:16]
            self.work_dir = DEFAULT_WORK_ROOT.expanduser() / digest
        folder = Path(self.work_dir) if self.work_dir is not None else None
        self.local_input = folder / "manifest.jsonl" if self.input_remote and folder else Path(self._local(self.input))
        self.local_output = (
            folder / posixpath.basename(self.output)
            if self.output_remote and folder
            else Path(self._local(self.output))
        )

    @staticmethod
    def _local(location: str) -> str:
        return resolve_source(location)

    @property
    def input_remote(self) -> bool:
        """True when the manifest is a URL."""
        return is_remote(self.input)

    @property
    def output_remote(self) -> bool:
        """True when the output is a URL."""
        return is_remote(self.output)

    @property
    def any_remote(self) -> bool:
        """True when the manifest or the output is a URL."""
        return self.input_remote or self.output_remote

    @property
    def media_base(self) -> str | None:
        """Where the manifest's relative media paths lead when it is a URL (its folder), else ``None``."""
        return url_folder(self.input) if self.input_remote else None

    def _sidecars(self) -> list[tuple[Path, str]]:
        """(local, URL) of the output and its errors file."""
        return [
            (self.local_output, self.output),
            (sidecar_path(self.local_output, ".errors.jsonl"), self._sidecar_url(".errors.jsonl")),
        ]

    def _sidecar_url(self, suffix: str) -> str:
        return url_folder(self.output) + "/" + sidecar_path(Path(posixpath.basename(self.output)), suffix).name

    def fetch(self) -> None:
        """Copy the manifest, and the output and errors file found at their URLs, into the working folder."""
        if self.work_dir is not None:
            Path(self.work_dir).mkdir(parents=True, exist_ok=True)
        if self.input_remote:
            if not _exists(self.input):
                raise FileNotFoundError(f"manifest {self.input} does not exist")
            _copy(self.input, os.fspath(self.local_input))
        if self.output_remote:
            for local, url in self._sidecars():
                if _exists(url):
                    _copy(url, os.fspath(local))
                else:
                    local.unlink(missing_ok=True)  # the URL is the truth: a stale local copy must not resume
            for suffix in (".keys", ".checkpoint.json"):  # rebuilt from the copy just fetched
                sidecar_path(self.local_output, suffix).unlink(missing_ok=True)

    def publish(self) -> list[str]:
        """Copy the output and its errors file back to their URLs (an errors file no longer there is removed);
        the URLs written."""
        if not self.output_remote:
            return []
        import fsspec

        written = []
        for local, url in self._sidecars():
            if local.exists():
                _copy(os.fspath(local), url)
                written.append(url)
            elif _exists(url):
                fs, path = fsspec.core.url_to_fs(url)
                fs.rm(path)
        return written
