"""The models of the ``scene`` observer, loaded once per process from files shipped inside this package (by
:meth:`detective_scene.tool.SceneTool.setup`, through :func:`detective.loaded.load_once`).

- an image classifier: EfficientNet-Lite0 with ImageNet-1k weights (an ONNX graph plus int8 weights, dequantized at
  load), run by onnxruntime;
- face detectors: BlazeFace short-range and full-range (``.tflite``), run by OpenCV's DNN module (no mediapipe
  import): the short-range model for faces near the camera, the full-range one for faces a few metres away;
- a people detector: OpenCV's default HOG pedestrian SVM (``.npy``), on a HOG descriptor computed by
  :mod:`detective_scene.people` (OpenCV 5 dropped its own).

``models/NOTICE`` says where each file comes from and under which licence; ``scripts/convert_models.py`` made
them. Nothing is downloaded: a missing file is an error that says how to repair the install.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from detective.threads import model_threads
from detective.tools import ToolError
from detective_scene.people import PeopleDetector, Person

MODEL_DIR = Path(__file__).resolve().parent / "models"
CLASSIFIER_FILE = "efficientnet_lite0.onnx"
WEIGHTS_FILE = "efficientnet_lite0_weights.npz"
FACE_FILE = "face_detection_short_range.tflite"
FAR_FACE_FILE = "face_detection_full_range.tflite"
LABELS_FILE = "imagenet_labels.txt"
PEOPLE_FILE = "hog_people_svm.npy"

CLASSIFIER_SIDE = 224
FACE_SIDE = 128
FAR_FACE_SIDE = 192
#: A face is kept from this detector score on. BlazeFace's own default is 0.5; a cat's face scores 0.58 and a
#: colourful test image 0.58 while the photographed faces of the fixtures score 0.79 to 0.92.
FACE_MIN_SCORE = 0.7
#: The full-range detector's threshold. MediaPipe's own is 0.6; on the real-footage corpus (tests/fixtures/
#: make_real_footage.py) the faces it alone finds (a footballer, a man holding a basketball, a film's background
#: figure) score 0.77 to 0.84, while shots without a face score up to 0.58 (sweets, brick houses), and a
#: pedestrian's back of the head 20 px tall once 0.71.
FAR_FACE_MIN_SCORE = 0.75
#: Overlapping detections of one face are merged above this intersection over union.
FACE_NMS_IOU = 0.3
#: The people detector sees frames enlarged by this much (scene frames are at most 448 pixels; its window is 128
#: pixels tall, and the corpus's pedestrians are 50 to 90 pixels tall at that size) and a pyramid of this step.
PEOPLE_UPSCALE = 1.6
PEOPLE_SCALE = 1.2


@dataclass(frozen=True)
class Face:
    """One detected face: box ``(x0, y0, x1, y1)`` normalised to the frame (0..1) and detector score."""

    box: tuple[float, float, float, float]
    score: float


def _threads(configured: int) -> int:
    return model_threads("OMNI_DETECTIVE_SCENE_THREADS", configured, most=2)


def _anchors(side: int = FACE_SIDE, layers: tuple[tuple[int, int], ...] = ((8, 2), (16, 6))) -> np.ndarray:
    """BlazeFace SSD anchor centres in 0..1: short-range 16x16 cells x 2 and 8x8 cells x 6 (896 rows);
    full-range (``side`` 192, ``layers`` ((4, 1),)) 48x48 cells x 1 (2304 rows)."""
    rows: list[tuple[float, float]] = []
    for stride, per_cell in layers:
        cells = side // stride
        for y in range(cells):
            for x in range(cells):
                rows.extend([((x + 0.5) / cells, (y + 0.5) / cells)] * per_cell)
    return np.asarray(rows, dtype=np.float32)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of box ``a`` with each row of ``b`` (``x0, y0, x1, y1``)."""
    x0 = np.maximum(a[0], b[:, 0])
    y0 = np.maximum(a[1], b[:, 1])
    x1 = np.minimum(a[2], b[:, 2])
    y1 = np.minimum(a[3], b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda box: (box[..., 2] - box[..., 0]) * (box[..., 3] - box[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def texture(rgb: np.ndarray) -> float:
    """Share of 8x8 blocks (of a 256-pixel-wide grey thumbnail) whose brightness varies: ~0 for flat cards.

    Title cards, colour bars and test patterns are mostly flat (0.0 to 0.25 measured); photographs are not
    (0.43 to 1.0), even after video compression.
    """
    import cv2

    height, width = rgb.shape[:2]
    scale = 256 / max(height, width)
    small = cv2.resize(rgb, (max(8, round(width * scale)), max(8, round(height * scale))), interpolation=cv2.INTER_AREA)
    grey = small.astype(np.float32).mean(axis=2)
    h, w = (grey.shape[0] // 8) * 8, (grey.shape[1] // 8) * 8
    blocks = grey[:h, :w].reshape(h // 8, 8, w // 8, 8).std(axis=(1, 3))
    return float((blocks > 3.0).mean())


class SceneEngine:
    """The loaded classifier and face detector. Calls are serialised per model (OpenCV nets keep state)."""

    def __init__(self, model_dir: str | None = None, threads: int = 0) -> None:
        root = Path(model_dir) if model_dir else MODEL_DIR
        paths = [
            root / CLASSIFIER_FILE,
            root / WEIGHTS_FILE,
            root / FACE_FILE,
            root / FAR_FACE_FILE,
            root / LABELS_FILE,
        ]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise ToolError(
                "scene: model file(s) missing: "
                + ", ".join(missing)
                + ". They ship inside the omni-detective-scene distribution; reinstall it "
                "(pip install -r requirements.txt) or point model_dir at a folder holding them."
            )
        self.root = root
        self.threads = _threads(threads)
        self.labels = (root / LABELS_FILE).read_text(encoding="utf-8").splitlines()
        self._face_lock = threading.Lock()

    def load(self) -> SceneEngine:
        """Load the classifier and both face detectors now (else each loads on its first use); the engine."""
        for model in (self._classifier, self._face_net, self._far_face_net):
            assert model is not None
        return self

    @cached_property
    def _classifier(self):  # type: ignore[no-untyped-def]
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Idle worker threads sleep: onnxruntime's default busy-wait costs CPU for nothing between frames.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # The graph's initializers are external: int8 weights with per-channel scales, dequantized here once,
        # so inference runs in float32 (see scripts/convert_models.py).
        names: list[str] = []
        values: list[ort.OrtValue] = []
        with np.load(self.root / WEIGHTS_FILE) as stored:
            for key in stored.files:
                if key.endswith(".scale"):
                    continue
                if key.endswith(".q"):
                    name = key[:-2]
                    q = stored[key]
                    scale = stored[name + ".scale"].reshape((-1,) + (1,) * (q.ndim - 1))
                    value = q.astype(np.float32) * scale
                else:
                    name, value = key, stored[key]
                names.append(name)
                values.append(ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(value)))
        options.add_external_initializers(names, values)
        self._weights = values  # onnxruntime keeps pointers to these buffers: hold them for the session's life
        model = (self.root / CLASSIFIER_FILE).read_bytes()
        return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])

    @cached_property
    def _people(self) -> PeopleDetector:
        path = self.root / PEOPLE_FILE
        if not path.is_file():
            raise ToolError(
                f"scene: model file missing: {path}. It ships inside the omni-detective-scene distribution; "
                "reinstall it (pip install -r requirements.txt) or point model_dir at a folder holding it."
            )
        return PeopleDetector(path, scale=PEOPLE_SCALE, upscale=PEOPLE_UPSCALE)

    def people(self, rgb: np.ndarray) -> list[Person]:
        """People (whole, upright figures) in an RGB frame, best first, with the HOG SVM's margin as score."""
        return self._people.detect(rgb)

    @cached_property
    def _face_net(self):  # type: ignore[no-untyped-def]
        return self._tflite(FACE_FILE)

    @cached_property
    def _far_face_net(self):  # type: ignore[no-untyped-def]
        return self._tflite(FAR_FACE_FILE)

    def _tflite(self, name: str):  # type: ignore[no-untyped-def]
        import cv2

        engine = getattr(cv2.dnn, "ENGINE_CLASSIC", None)
        path = str(self.root / name)
        # OpenCV 5's new engine exposes only one of the two outputs of these graphs; the classic one both.
        net = cv2.dnn.readNetFromTFLite(path, engine=engine) if engine is not None else cv2.dnn.readNetFromTFLite(path)
        cv2.setNumThreads(self.threads)
        return net

    def classify(self, rgb: np.ndarray) -> np.ndarray:
        """ImageNet-1k probabilities (1000) of the centre square of an RGB frame."""
        import cv2

        height, width = rgb.shape[:2]
        side = min(height, width)
        y0, x0 = (height - side) // 2, (width - side) // 2
        crop = cv2.resize(
            rgb[y0 : y0 + side, x0 : x0 + side], (CLASSIFIER_SIDE, CLASSIFIER_SIDE), interpolation=cv2.INTER_AREA
        )
        # The Lite models were trained on (pixel - 127) / 128.
        image = ((crop.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
        (probs,) = self._classifier.run(["probs"], {"image": np.ascontiguousarray(image)})
        return np.asarray(probs[0], dtype=np.float32)

    def faces(
        self, rgb: np.ndarray, min_score: float = FACE_MIN_SCORE, far_min_score: float = FAR_FACE_MIN_SCORE
    ) -> list[Face]:
        """Faces in an RGB frame, best first.

        The detectors see 128x128 (short range) and 192x192 pixels (full range, faces a few metres away), so a
        whole 16:9 frame shrinks a face too far: the short-range one looks at the frame letterboxed to a square
        and both at overlapping squares covering its long side (left and right for 16:9); what they find is merged.
        """
        height, width = rgb.shape[:2]
        side = min(height, width)
        views: list[tuple[int, int, int]] = []  # (x0, y0, side) of square views; negative offsets letterbox
        if max(height, width) > 1.2 * side:
            big = max(height, width)
            views.append(((width - big) // 2, (height - big) // 2, big))
        steps = max(1, math.ceil(max(height, width) / side))  # squares that cover the long side, overlapping
        for k in range(steps):
            offset = round(k * (max(height, width) - side) / max(1, steps - 1))
            views.append((offset, 0, side) if width >= height else (0, offset, side))
        boxes: list[np.ndarray] = []
        scores: list[float] = []
        for x0, y0, size in views:
            # the full-range model only on the squares: in the letterboxed whole frame a distant face is too small
            # for it as well (same faces found on the corpus, a third less time)
            for far in (False, True) if size <= side else (False,):
                for box, score in self._detect(rgb, x0, y0, size, far_min_score if far else min_score, far=far):
                    boxes.append(box / np.array([width, height, width, height], dtype=np.float32))
                    scores.append(score)
        faces: list[Face] = []
        if not boxes:
            return faces
        all_boxes = np.clip(np.stack(boxes), 0.0, 1.0)
        all_scores = np.asarray(scores)
        taken = np.zeros(len(scores), dtype=bool)
        for i in np.argsort(-all_scores):
            if taken[i]:
                continue
            taken |= _iou(all_boxes[i], all_boxes) > FACE_NMS_IOU
            box = all_boxes[i]
            if box[2] - box[0] > 0 and box[3] - box[1] > 0:
                faces.append(Face(box=(*(round(float(v), 4) for v in box),), score=float(all_scores[i])))  # type: ignore[arg-type]
        return faces

    def _detect(
        self, rgb: np.ndarray, x0: int, y0: int, size: int, min_score: float, far: bool = False
    ) -> list[tuple[np.ndarray, float]]:
        """Detections in the square view ``(x0, y0, size)`` of the frame (zero-padded where it overhangs), as
        pixel boxes of the frame with their scores; ``far``: by the full-range detector."""
        import cv2

        side, anchors = (FAR_FACE_SIDE, _FAR_ANCHORS) if far else (FACE_SIDE, _ANCHORS)

        height, width = rgb.shape[:2]
        square = np.zeros((size, size, 3), dtype=np.uint8)
        sx0, sy0 = max(0, x0), max(0, y0)
        sx1, sy1 = min(width, x0 + size), min(height, y0 + size)
        square[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
        small = cv2.resize(square, (side, side), interpolation=cv2.INTER_AREA)
        blob = np.ascontiguousarray((small.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None])
        with self._face_lock:
            net = self._far_face_net if far else self._face_net
            net.setInput(blob)
            outputs = net.forward(net.getUnconnectedOutLayersNames())
        # the two outputs told apart by shape: one score per anchor, and 16 box and keypoint numbers
        scores_raw, boxes_raw = sorted(outputs, key=lambda out: out.shape[-1])
        scores = 1.0 / (1.0 + np.exp(-np.clip(scores_raw.reshape(-1), -60.0, 60.0)))
        keep = np.nonzero(scores >= min_score)[0]
        raw = boxes_raw.reshape(-1, 16)[keep]
        centre = raw[:, :2] / side + anchors[keep]
        half = raw[:, 2:4] / side / 2.0
        boxes = np.concatenate([centre - half, centre + half], axis=1) * size + np.array([x0, y0, x0, y0])
        return [(boxes[j].astype(np.float32), float(scores[keep][j])) for j in range(keep.size)]


_ANCHORS = _anchors()
_FAR_ANCHORS = _anchors(FAR_FACE_SIDE, ((4, 1),))
