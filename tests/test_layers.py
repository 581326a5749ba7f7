"""Imports run one way: a module imports from its own layer or a lower one, and only at
module level (an import moved into a function to dodge a cycle is a cycle)."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The layers, lowest first: the hardware-independent model, the chip (and the package's
# public API, which re-exports model and chip), learning rules, mapping to and from other
# tools (which exports rules to Lava), the studies and reports, the command line.
LAYERS = {
    "neurochip.model": 0,
    "neurochip.chip": 1,
    "neurochip": 1,
    "neurochip.rules": 2,
    "neurochip.mapping": 3,
    "neurochip.studies": 4,
    "neurochip.cli": 5,
}
FOLDERS = {"neurochip": "neurochip", "rules": "neurochip.rules", "mapping": "neurochip.mapping"}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = FOLDERS[rel.parts[0]].split(".") + list(rel.parts[1:])
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def package_files():
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))


def project_imports(source: str, package: str):
    """(imported module, line, inside a function) of every project import in `source`, a
    module of `package` (for relative imports)."""
    tree = ast.parse(source)
    in_function = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            in_function.update(id(n) for n in ast.walk(node) if n is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            names = [base]
        else:
            continue
        for name in names:
            if name == "neurochip" or name.startswith("neurochip."):
                yield name, node.lineno, id(node) in in_function


def test_every_package_module_is_read():
    names = {module_name(p) for p in package_files()}
    assert {"neurochip.model.neurons", "neurochip.chip.kernels", "neurochip.rules.rule", "neurochip.cli"} <= names


@pytest.mark.parametrize("path", package_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_down_and_at_module_level(path):
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    bad = []
    for name, line, in_function in project_imports(path.read_text(), package):
        if in_function:
            bad.append(f"line {line}: imports {name} inside a function")
        elif layer(name) > layer(me):
            bad.append(f"line {line}: {me} (layer {layer(me)}) imports {name} (layer {layer(name)})")
    assert not bad, f"{path.relative_to(ROOT)}:\n" + "\n".join(bad)


def test_the_check_sees_a_violation():
    """A model-layer module importing the CLI inside a function breaks both rules."""
    found = list(project_imports("import numpy\ndef f():\n    from ..cli import main\n", "neurochip.model"))
    assert found == [("neurochip.cli", 3, True)]
    assert layer("neurochip.cli") > layer("neurochip.model.neurons")
