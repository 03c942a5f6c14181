"""The ``speakers`` observer: who speaks when, offline, from voice embeddings of a pretrained encoder."""

from detective.lazy import lazy_exports

# eager: the function ``diarize`` shares its name with the submodule, which would replace a lazy export once loaded
from detective_speakers.diarize import Diarization, Turn, diarize, speech_regions

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

# importing the package, as discovering its plugin does, imports neither the tool nor the media stack
__getattr__ = lazy_exports(
    __name__,
    {
        "detective_speakers.encoder": ["VoiceEncoder", "mel_spectrogram"],
        "detective_speakers.tool": ["SpeakersInput", "SpeakersTool"],
    },
)
