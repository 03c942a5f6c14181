"""omni-detective scene observer: what each shot appears to show and the faces in it (models inside the package)."""

from detective_scene.tool import SceneInput, SceneTool

__all__ = ["SceneInput", "SceneTool"]
