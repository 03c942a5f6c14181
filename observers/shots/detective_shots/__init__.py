"""The ``shots`` observer: shot spans of a video from PySceneDetect's ContentDetector."""

from detective_shots.tool import ShotsInput, ShotsTool, detect_shots

__all__ = ["ShotsInput", "ShotsTool", "detect_shots"]
