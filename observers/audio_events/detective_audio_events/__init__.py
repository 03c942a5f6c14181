"""The ``audio_events`` observer: honest labels for spans of a clip's sound, from numpy signal features."""

from detective.lazy import lazy_exports

__all__ = [
    "AudioEventsInput",
    "AudioEventsTool",
    "Event",
    "FrameFeatures",
    "analyse",
    "frame_features",
    "segment",
]

# importing the package, as discovering its plugin does, imports none of its libraries: a name on first use
__getattr__ = lazy_exports(
    __name__,
    {
        "detective_audio_events.features": ["Event", "FrameFeatures", "analyse", "frame_features", "segment"],
        "detective_audio_events.tool": ["AudioEventsInput", "AudioEventsTool"],
    },
)
