"""What every test shares: the Lava skip rule and the peer data of ../shared.

Lava tests (marker `lava`) run whenever lava-nc is installed; without it they skip with a
message, except under CI, where they fail. Tests that read ../shared/golden skip likewise when
it is absent (`NEUROCHIP_SHARED` overrides the default, the `shared/` folder beside the
repository), and fail under CI.
"""
import importlib.util
import os
from pathlib import Path

import pytest

from neurochip.cli import main

CI = bool(os.environ.get("CI"))
SHARED = Path(os.environ.get("NEUROCHIP_SHARED", Path(__file__).resolve().parents[2] / "shared"))
LAVA_TIMEOUT_S = 600  # a Lava test without its own timeout gets this one
FF = str(Path(__file__).parent / "fixtures" / "snntorch" / "ff.nir")   # a small NIR file from snnTorch
SNN = ["--reset", "zero", "--reset-delay"]  # snnTorch's conventions for that file


def _absent(msg: str):
    if CI:
        pytest.fail(msg + "; under CI it must be there", pytrace=False)
    pytest.skip(msg, allow_module_level=True)


def require_lava() -> None:
    """Call at the top of a Lava test module, before importing what needs lava-nc."""
    if importlib.util.find_spec("lava") is None:
        _absent("lava-nc is not installed (pip install -e '.[lava]')")


def golden(sub: str = "") -> Path:
    """The folder ../shared/golden/<sub>."""
    path = SHARED / "golden" / sub
    if not path.is_dir():
        _absent(f"golden data not found at {path} (../shared beside the repo, or set NEUROCHIP_SHARED)")
    return path


def run_cli(capsys, *argv) -> tuple:
    """`neurochip *argv` in this process: (exit code, stdout, stderr)."""
    code = main(["--quiet", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("lava") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(LAVA_TIMEOUT_S))
