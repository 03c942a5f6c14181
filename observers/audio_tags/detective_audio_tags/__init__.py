"""omni-detective audio_tags observer (optional extra): AudioSet sound classes over time with YAMNet."""

from detective_audio_tags.tool import AudioTagsInput, AudioTagsTool

__all__ = ["AudioTagsInput", "AudioTagsTool"]
