"""A clip's source: the one rule for paths and URLs, non-regular files refused by kind, opening, hashing."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import av

from detective.media.errors import _fail, _reason


def _is_url(source: str) -> bool:
    return urlparse(source).scheme in ("http", "https")


#: ``scheme://…`` (or ``data:…``): a source that names a URL rather than a local path.
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*):(?://|(?<=data:))")
#: Protocols fsspec knows that are not remote sources of a clip (the local file system under other names).
_LOCAL_PROTOCOLS = frozenset({"file", "local"})


def scheme_of(source: str) -> str | None:
    """The URL scheme of ``source`` (lower case), or ``None`` for a local path (``file://`` counts as a scheme)."""
    match = _SCHEME.match(source)
    return match.group("scheme").lower() if match else None


def fsspec_protocols() -> list[str]:
    """The protocols fsspec can read (``s3``, ``gs``, ``az`` …), whether or not their backend is installed."""
    from fsspec.registry import known_implementations, registry

    return sorted(set(known_implementations) | set(registry))


def resolve_source(source: str, base: str | os.PathLike[str] | None = None) -> str:
    """The one rule for a clip's source, for ``caption`` and ``run`` alike.

    - a local path stays a path (``~`` expanded; a relative one resolved under ``base`` when given, which may be
      a URL folder: a relative path in a manifest at ``s3://b/sets/`` names ``s3://b/sets/<path>``);
    - ``file://`` URLs become the local path they name;
    - ``http://`` and ``https://`` URLs are downloaded by :func:`aopen_media` with its limits;
    - any other URL fsspec reads (``s3://``, ``gs://``, ``az://``, ``hf://``, ``ftp://``, ``data:`` …) is read
      through fsspec, credentials from the usual environment (``AWS_*``, ``GOOGLE_APPLICATION_CREDENTIALS``,
      ``AZURE_STORAGE_*``);
    - anything else raises :class:`MediaError` naming the source and its unsupported scheme.
    """
    scheme = scheme_of(source)
    if scheme is None:
        path = Path(os.path.expanduser(source))
        if base is not None and not path.is_absolute():
            if is_remote(os.fspath(base)):  # a manifest at a URL: its relative paths lead beside it
                return os.fspath(base).rstrip("/") + "/" + path.as_posix().removeprefix("./")
            path = Path(base) / path
        return str(path)
    if scheme == "file":
        from urllib.request import url2pathname

        parsed = urlparse(source)
        if parsed.netloc not in ("", "localhost"):
            raise _fail(source, f"file:// URL of another host ({parsed.netloc}); give a local path")
        return url2pathname(parsed.path)
    if scheme in ("http", "https") or scheme in fsspec_protocols():
        return source
    raise _fail(
        source,
        f"unsupported scheme '{scheme}:' (give a local path, file://, http(s):// or a URL fsspec reads, such as "
        "s3://, gs://, az://, hf://, ftp://, sftp:// or data:)",
    )


def is_remote(source: str) -> bool:
    """True for a source :func:`aopen_media` downloads (http(s) or an fsspec URL), False for a local path."""
    scheme = scheme_of(source)
    return scheme is not None and scheme not in _LOCAL_PROTOCOLS


#: What a local source that is not a regular file is, by ``stat`` mode test: each is refused before it is opened.
_KINDS = (
    (stat.S_ISDIR, "is a directory, not a media file"),
    (stat.S_ISFIFO, "is a FIFO (named pipe), not a regular file: refused unopened (reading one can wait forever)"),
    (stat.S_ISCHR, "is a character device, not a regular file: refused unopened"),
    (stat.S_ISBLK, "is a block device, not a regular file: refused unopened"),
    (stat.S_ISSOCK, "is a socket, not a regular file: refused unopened"),
)


def check_local_file(path: str | os.PathLike[str], *, allow_empty: bool = False) -> None:
    """Refuse a local source that is not a non-empty regular file, by kind, without opening it.

    :raises MediaError: missing (or a broken symlink), a symlink loop, a directory, a FIFO, a device, a socket,
        an empty file, or a file that cannot be looked at.
    """
    try:
        st = os.stat(path)  # follows symlinks: the kind of what would be opened
    except FileNotFoundError:
        if os.path.islink(path):
            raise _fail(path, f"broken symlink (to {os.readlink(path)}): file not found") from None
        raise _fail(path, "file not found") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _fail(path, "symlink loop (the links lead back to themselves): no file to open") from None
        raise _fail(path, f"cannot be looked at ({exc.strerror or exc})") from None
    for test, why in _KINDS:
        if test(st.st_mode):
            raise _fail(path, why)
    if not stat.S_ISREG(st.st_mode):
        raise _fail(path, "is not a regular file: refused unopened")
    if st.st_size == 0 and not allow_empty:
        raise _fail(path, "empty file (0 bytes)")


#: Seconds a download may wait for its connection or its next bytes before it is given up.
READ_TIMEOUT = 60.0


def _open(path: str | os.PathLike[str]) -> Any:
    """Open a local file, or an http(s) URL as a stream, with PyAV, turning every way it can fail into a
    MediaError."""
    if _is_url(os.fspath(path)):
        try:  # FFmpeg reads what it needs (a header, the packets asked for), with range requests to seek
            return av.open(os.fspath(path), mode="r", timeout=(READ_TIMEOUT, READ_TIMEOUT))
        except av.FFmpegError as exc:
            raise _fail(path, f"cannot be read over the network, or not a media file ({_reason(exc)})") from exc
        except OSError as exc:
            raise _fail(path, f"cannot be opened ({exc})") from exc
    p = Path(path)
    check_local_file(p)
    try:
        return av.open(str(p), mode="r")
    except av.FFmpegError as exc:
        raise _fail(path, f"not a readable media file, or truncated/corrupt ({_reason(exc)})") from exc
    except OSError as exc:
        raise _fail(path, f"cannot be opened ({exc})") from exc


def content_hash(path: str | os.PathLike[str]) -> str:
    """sha256 of the file's bytes (hex), read in blocks."""
    check_local_file(path, allow_empty=True)
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
