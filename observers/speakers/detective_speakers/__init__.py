"""The ``speakers`` observer: who speaks when, offline, from voice embeddings of a pretrained encoder."""

from detective_speakers.diarize import Diarization, Turn, diarize, speech_regions
from detective_speakers.encoder import VoiceEncoder, mel_spectrogram
from detective_speakers.tool import SpeakersInput, SpeakersTool

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
