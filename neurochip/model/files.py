"""Files the project writes: atomically, so a result or checkpoint is never half written."""
from __future__ import annotations

import contextlib
import os
import signal
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
    with _sigint_deferred():   # Ctrl-C lands after the write: no temporary left, the file old or new
        try:
            _write(path, write, suffix)
        except OSError as e:
            raise error(f"{path}: cannot write it ({e.strerror or e})") from None


def _write(path: Path, write, suffix: str) -> None:
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
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


@contextlib.contextmanager
def _sigint_deferred():
    """Within (in the main thread): Ctrl-C is held back and delivered, to the handler that
    was in place, when the block ends."""
    held = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(frame))
    except ValueError:   # not the main thread: signals go to the main thread anyway
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if held:
            if callable(previous):
                previous(signal.SIGINT, held[0])
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt


def available_memory() -> int | None:
    """Bytes this process can still allocate: the system's available memory (MemAvailable,
    else free pages), capped by an address-space limit (`ulimit -v`) if one is set; None when
    neither can be read."""
    free = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if free is None:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            pass
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY and soft > 0:
            free = soft if free is None else min(free, soft)
    except (ImportError, OSError, ValueError):
        pass
    return free


def check_memory(what: str, needed: int, error, fix: str) -> None:
    """Raise `error` before allocating if `needed` bytes (an estimate of the arrays `what`
    asks for) exceed the memory available (`available_memory`), naming what, the bytes
    needed, the limit and `fix`."""
    free = available_memory()
    if free is not None and needed > free:
        raise error(f"{what} needs about {_gib(needed)} of memory, more than the {_gib(free)} available; {fix}")


def _gib(n: int) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.3g} MiB"
