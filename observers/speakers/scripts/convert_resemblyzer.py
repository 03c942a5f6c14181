"""Convert Resemblyzer 0.1.4's GE2E voice encoder checkpoint to the compact ``.npz`` this observer ships.

Usage::

    pip download --no-deps resemblyzer==0.1.4 -d /tmp/resemblyzer
    python observers/speakers/scripts/convert_resemblyzer.py /tmp/resemblyzer/Resemblyzer-0.1.4-py3-none-any.whl

The wheel's ``resemblyzer/pretrained.pt`` is a legacy (non-zip) ``torch.save`` file. It is read here without
torch by a restricted unpickler: tensors are rebuilt as numpy arrays from their raw storages, and any class
other than the few that a state dict needs is refused. Only the model's weights are kept (the checkpoint also
carries the optimiser's state), as float16, and written to ``detective_speakers/weights/ge2e_resemblyzer.npz``
beside the wheel's Apache-2.0 licence.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import io
import pickle
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

CHECKPOINT = "resemblyzer/pretrained.pt"
LICENSE = "Resemblyzer-0.1.4.dist-info/LICENSE"
OUT_DIR = Path(__file__).resolve().parents[1] / "detective_speakers" / "weights"

_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
}


class _Storage:
    """A storage named by the pickle, filled from the bytes that follow it."""

    def __init__(self, dtype: type, numel: int) -> None:
        self.dtype = dtype
        self.numel = numel
        self.data: np.ndarray | None = None


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = _DTYPES[name]


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any) -> Any:
    # storages are filled only after the whole pickle is read: return a recipe, realised later
    return ("tensor", storage, offset, tuple(size), tuple(stride))


class _Restricted(pickle.Unpickler):
    """Unpickler that knows only what a legacy state dict needs, and refuses every other global."""

    def __init__(self, file: Any, storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the checkpoint")

    def persistent_load(self, pid: Any) -> Any:
        kind, storage_type, key, _location, numel = pid[:5]
        if kind != "storage" or not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype, int(numel))
        return self.storages[key]


class _Plain(pickle.Unpickler):
    """For the header records (magic number, protocol, system info): plain values only."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the checkpoint header")


def _realise(obj: Any) -> Any:
    if isinstance(obj, tuple) and len(obj) == 5 and obj[0] == "tensor":
        _, storage, offset, size, stride = obj
        item = np.dtype(storage.dtype).itemsize
        flat = storage.data
        return np.lib.stride_tricks.as_strided(
            flat[offset:], shape=size, strides=tuple(s * item for s in stride)
        ).copy()
    if isinstance(obj, dict):
        return {k: _realise(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_realise(v) for v in obj]
    return obj


def load_legacy_checkpoint(raw: bytes) -> dict[str, Any]:
    """The object saved in a legacy ``torch.save`` file, tensors as numpy arrays (no torch needed)."""
    f = io.BytesIO(raw)
    magic = _Plain(f).load()
    if magic != 0x1950A86A20F9469CFC6C:
        raise ValueError("not a legacy torch checkpoint (bad magic number)")
    _Plain(f).load()  # protocol version
    _Plain(f).load()  # system info
    storages: dict[str, _Storage] = {}
    obj = _Restricted(f, storages).load()
    keys = _Plain(f).load()
    for key in keys:
        storage = storages[key]
        numel = int(np.frombuffer(f.read(8), dtype="<i8")[0])
        if numel != storage.numel:
            raise ValueError(f"storage {key}: {numel} elements on disk, {storage.numel} announced")
        nbytes = numel * np.dtype(storage.dtype).itemsize
        storage.data = np.frombuffer(f.read(nbytes), dtype=np.dtype(storage.dtype).newbyteorder("<")).copy()
    return _realise(obj)


def convert(wheel: Path, out_dir: Path = OUT_DIR) -> Path:
    """Write the encoder's weights (float16 ``.npz``) and the wheel's licence into ``out_dir``."""
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(CHECKPOINT)
        licence = zf.read(LICENSE)
    checkpoint = load_legacy_checkpoint(raw)
    state = checkpoint["model_state"]
    arrays: dict[str, np.ndarray] = {}
    for layer in range(3):
        for part in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            arrays[f"lstm.{part}_l{layer}"] = state[f"lstm.{part}_l{layer}"]
    arrays["linear.weight"] = state["linear.weight"]
    arrays["linear.bias"] = state["linear.bias"]
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "ge2e_resemblyzer.npz"
    np.savez_compressed(target, **{k: v.astype(np.float16) for k, v in arrays.items()})
    (out_dir / "LICENSE-resemblyzer").write_bytes(licence)
    print(f"source sha256 {hashlib.sha256(raw).hexdigest()}", file=sys.stderr)
    print(f"wrote {target} ({target.stat().st_size} bytes)", file=sys.stderr)
    return target


def main() -> None:
    """Command line: ``convert_resemblyzer.py WHEEL [OUT_DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="Resemblyzer-0.1.4-py3-none-any.whl")
    parser.add_argument("out_dir", type=Path, nargs="?", default=OUT_DIR)
    args = parser.parse_args()
    convert(args.wheel, args.out_dir)


if __name__ == "__main__":
    main()
