"""Where the peer data of ../shared/golden is, for tests that read it.

`NEUROCHIP_SHARED` overrides the default, the `shared/` folder beside the repository. Absent
data skips the test with a message, except under CI, where it fails."""
import os
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("NEUROCHIP_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def golden(sub: str = "") -> Path:
    path = SHARED / "golden" / sub
    if not path.is_dir():
        msg = f"golden data not found at {path} (../shared beside the repo, or set NEUROCHIP_SHARED)"
        if os.environ.get("CI"):
            pytest.fail(msg + "; CI must have it")
        pytest.skip(msg)
    return path
