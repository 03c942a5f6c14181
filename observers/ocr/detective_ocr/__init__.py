"""omni-detective OCR observer: on-screen text tracks read with rapidocr (models inside the rapidocr wheel)."""

from detective_ocr.tool import OCRInput, OCRTool

__all__ = ["OCRInput", "OCRTool"]
