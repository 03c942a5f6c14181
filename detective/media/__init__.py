"""Media decoding: probe clips, stream their audio and sample their frames, with PyAV.

Every function decodes as a stream: audio arrives in blocks, frames one at a time, so a 2-hour video
never sits in memory. Times are clip times in seconds. A frame is reported at its *true* presentation time:
asking for t = 3.0 returns the frame on screen at 3.0 s together with the time it was first shown (e.g.
2.96 s), never a frame re-stamped with the time that was asked for.

Every failure is a :class:`MediaError` whose message starts with the clip's source and says what is wrong.

The room's modules: :mod:`~detective.media.errors` (:class:`MediaError`), :mod:`~detective.media.sources` (the
source rule, kind checks, hashing), :mod:`~detective.media.probing`, :mod:`~detective.media.opening` (local,
http and fsspec sources within deadlines), :mod:`~detective.media.decoding` (the shared decode loop and
:func:`damage`), :mod:`~detective.media.audio` and :mod:`~detective.media.frames`. This package re-exports their
public names; patch a name where it is defined (``detective.media.audio.load_audio``), not here.
"""

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
    DOWNLOAD_TIMEOUT,
    PROBE_TIMEOUT,
    aopen_media,
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
    "DOWNLOAD_TIMEOUT",
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
