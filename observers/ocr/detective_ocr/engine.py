"""The OCR engine: rapidocr with the PP-OCR models that ship inside the rapidocr wheel, loaded once per process
(by :meth:`detective_ocr.tool.OCRTool.setup`, through :func:`detective.loaded.load_once`).

rapidocr downloads a model whenever its configuration names one without a path, so every model is given by
an explicit file path here and a missing file is an error, never a download.

The detector and recogniser run in onnxruntime sessions whose worker threads sleep between calls instead of
spinning: onnxruntime's default busy-wait doubles to triples the CPU time of a read on a shared or busy machine
(measured 0.47 against 0.23 CPU s per 640x360 frame on 2 loaded cores) and buys nothing when frames arrive one
at a time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detective.threads import model_threads
from detective.tools import ToolError

#: The model files of the rapidocr==3.10.0 wheel (``rapidocr/models``).
DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
CLS_MODEL = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"


@dataclass(frozen=True)
class EngineConfig:
    """How the engine is built: model folder, threads, detector input size and the angle classifier."""

    model_dir: str | None = None
    threads: int = 0
    det_side: int = 960
    use_cls: bool = False

    def resolved_threads(self) -> int:
        """Intra-op threads: the configured number, else ``OMNI_DETECTIVE_OCR_THREADS``, else the observers' share
        of the cores (:func:`detective.threads.model_threads`)."""
        return model_threads("OMNI_DETECTIVE_OCR_THREADS", self.threads)


@dataclass
class TextLine:
    """One recognised line in one frame: text, score and quadrilateral box in pixels of that frame."""

    text: str
    score: float
    box: np.ndarray  # shape (4, 2), x/y pixels


def wheel_model_dir() -> Path:
    """The ``models`` folder inside the installed rapidocr package."""
    import rapidocr

    return Path(rapidocr.__file__).resolve().parent / "models"


def model_paths(config: EngineConfig) -> dict[str, Path]:
    """Paths of the detector, recogniser and classifier; raises ToolError naming any missing file."""
    root = Path(config.model_dir) if config.model_dir else wheel_model_dir()
    paths = {"det": root / DET_MODEL, "rec": root / REC_MODEL, "cls": root / CLS_MODEL}
    needed = ["det", "rec"] + (["cls"] if config.use_cls else [])
    missing = [str(paths[k]) for k in needed if not paths[k].is_file()]
    if missing:
        raise ToolError(
            "ocr: PP-OCR model file(s) missing: "
            + ", ".join(missing)
            + ". They ship inside the rapidocr==3.10.0 wheel; reinstall it (pip install --force-reinstall "
            "rapidocr==3.10.0) or point model_dir at a folder holding them. Models are never downloaded."
        )
    return paths


class OCREngine:
    """A loaded rapidocr pipeline. Calls are serialised: rapidocr keeps per-call state on the instance."""

    def __init__(self, config: EngineConfig) -> None:
        from rapidocr import RapidOCR

        paths = model_paths(config)
        threads = config.resolved_threads()
        params: dict[str, Any] = {
            "Global.log_level": "error",  # "no text found" is not a warning here
            "Global.use_cls": config.use_cls,
            # Frames arrive already downscaled; "max" keeps the detector from upscaling small frames.
            "Det.limit_type": "max",
            "Det.limit_side_len": config.det_side,
            "Det.model_path": str(paths["det"]),
            "Rec.model_path": str(paths["rec"]),
            "Cls.model_path": str(paths["cls"]),
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        self.config = config
        self._ocr = RapidOCR(params=params)
        _sleeping_sessions(self._ocr, paths, threads)
        self._lock = threading.Lock()

    def read(self, rgb: np.ndarray) -> list[TextLine]:
        """The text lines of one RGB frame."""
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        with self._lock:
            result = self._ocr(bgr)
        boxes = getattr(result, "boxes", None)
        if boxes is None or result.txts is None:
            return []
        return [
            TextLine(text=str(text), score=float(score), box=np.asarray(box, dtype=np.float32))
            for text, score, box in zip(result.txts, result.scores, boxes, strict=False)
        ]


def session_options(threads: int) -> Any:
    """onnxruntime options for one model: ``threads`` intra-op threads that sleep when idle (no spinning)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = False
    # Band reads give the detector inputs of ever new heights, and onnxruntime keeps a memory plan per input shape:
    # on a long clip those plans add up (peak +37 MB on the 10-minute loop), and planning buys nothing here.
    options.enable_mem_pattern = False
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _sleeping_sessions(ocr: Any, paths: dict[str, Path], threads: int) -> None:
    """Rebuild rapidocr's detector and recogniser sessions on the same files with :func:`session_options`.

    rapidocr 3.10 offers no setting for it (its configuration holds plain values, not a session), so its models
    are loaded now and each ``InferenceSession`` is replaced. A rapidocr shaped differently keeps its own
    sessions (slower, same results).
    """
    import onnxruntime as ort

    for key, loader in (("det", "_load_det_model"), ("rec", "_load_rec_model")):
        load = getattr(ocr, loader, None)
        holder = getattr(load(), "session", None) if load is not None else None
        if isinstance(getattr(holder, "session", None), ort.InferenceSession):
            holder.session = ort.InferenceSession(
                str(paths[key]), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
            )
