"""The ``speakers`` observer: who speaks when, offline, from voice embeddings of a pretrained encoder."""

from detective.lazy import lazy_exports

__all__ = [
    "Diarization",
    "SpeakersInput",
    "SpeakersTool",
    "Turn",
    "VoiceEncoder",
    "diarize",
    "mel_spectrogram",
    "speech_regions",
]

# importing the package, as discovering its plugin does, imports none of its libraries: a name on first use
__getattr__ = lazy_exports(
    __name__,
    {
        "detective_speakers.diarize": ["Diarization", "Turn", "diarize", "speech_regions"],
        "detective_speakers.encoder": ["VoiceEncoder", "mel_spectrogram"],
        "detective_speakers.tool": ["SpeakersInput", "SpeakersTool"],
    },
)
