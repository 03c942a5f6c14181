"""The ``audio_events`` observer: honest labels for spans of a clip's sound, from numpy signal features."""

from detective_audio_events.features import Event, FrameFeatures, analyse, frame_features, segment
from detective_audio_events.tool import AudioEventsInput, AudioEventsTool

__all__ = [
    "AudioEventsInput",
    "AudioEventsTool",
    "Event",
    "FrameFeatures",
    "analyse",
    "frame_features",
    "segment",
]
