"""The one place for Numba settings: every kernel module decorates with `njit` from here."""
import os

from numba import njit as _njit

# NEUROCHIP_NUMBA_CACHE=0 turns the on-disk cache off (e.g. on a read-only install).
CACHE = os.environ.get("NEUROCHIP_NUMBA_CACHE", "1") != "0"
OPTIONS = dict(cache=CACHE, nogil=True, fastmath=False, boundscheck=False)


def njit(fn):
    """Compile `fn` with the project's options (no fastmath: integer paths must stay exact)."""
    return _njit(**OPTIONS)(fn)
