"""Files the project writes: atomically, so a result or checkpoint is never half written."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


def save_npz_atomic(path, error, **arrays) -> None:
    """np.savez to `path` atomically (`write_atomic`)."""
    write_atomic(path, error, lambda f: np.savez(f, **arrays), ".npz")


def save_npy_atomic(path, error, array) -> None:
    """np.save to `path` atomically (`write_atomic`)."""
    write_atomic(path, error, lambda f: np.save(f, array), ".npy")


def write_atomic(path, error, write, suffix: str) -> None:
    """write(f) to `path` through a temporary file of its own beside it, then an atomic
    rename: readers see the old file or the new one, and two writers do not collide (the
    last one wins). A folder, a missing folder or an OS error raises `error` naming the path."""
    path = Path(path)
    if path.is_dir():
        raise error(f"{path}: is a folder; give a file name (e.g. {path / ('result' + suffix)})")
    if not path.parent.is_dir():
        raise error(f"{path}: the folder {path.parent} does not exist; create it or choose another path")
    tmp = None
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" + suffix,
                                         delete=False) as f:
            tmp = f.name
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)  # not the temporary's 0600
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise error(f"{path}: cannot write it ({e.strerror or e})") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
