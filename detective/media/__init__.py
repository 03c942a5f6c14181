"""Media decoding with PyAV: probe clips, stream their audio and sample their frames (the room's public names)."""

# The modules: errors (MediaError), sources (the source rule, kind checks, hashing), probing, opening (local,
# http(s) and fsspec sources within deadlines), decoding (the shared decode loop, damage), audio, frames. Patch a
# name where it is defined (detective.media.audio.load_audio), not here: the modules do not read this package.

from detective.media.audio import (
    AUDIO_GAP,
    audio_chunks,
    awav_data_url,
    clear_caches,
    iter_audio,
    iter_audio_span,
    load_audio,
    wav_bytes,
    wav_data_url,
)
from detective.media.decoding import DAMAGE_MEMORY, TAIL_GAP, damage
from detective.media.errors import MediaError
from detective.media.frames import SEEK_GAP, frames_at, iter_frames, iter_frames_at, sample_times
from detective.media.opening import (
    DOWNLOAD_PREFIX,
    PROBE_TIMEOUT,
    aopen_media,
    default_download_timeout,
    discard_download,
    open_media,
)
from detective.media.probing import probe
from detective.media.sources import (
    READ_TIMEOUT,
    check_local_file,
    content_hash,
    fsspec_protocols,
    is_remote,
    resolve_source,
    scheme_of,
)

__all__ = [
    "AUDIO_GAP",
    "DAMAGE_MEMORY",
    "DOWNLOAD_PREFIX",
    "PROBE_TIMEOUT",
    "READ_TIMEOUT",
    "SEEK_GAP",
    "TAIL_GAP",
    "MediaError",
    "aopen_media",
    "audio_chunks",
    "awav_data_url",
    "check_local_file",
    "clear_caches",
    "content_hash",
    "damage",
    "default_download_timeout",
    "discard_download",
    "frames_at",
    "fsspec_protocols",
    "is_remote",
    "iter_audio",
    "iter_audio_span",
    "iter_frames",
    "iter_frames_at",
    "load_audio",
    "open_media",
    "probe",
    "resolve_source",
    "sample_times",
    "scheme_of",
    "wav_bytes",
    "wav_data_url",
]


def __getattr__(name: str) -> object:
    """``DOWNLOAD_TIMEOUT``, kept for old callers: the default now lives in ``DetectiveConfig.download_timeout``."""
    if name == "DOWNLOAD_TIMEOUT":
        return default_download_timeout()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
