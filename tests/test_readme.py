"""The README's API examples run as printed."""
import re
from pathlib import Path


def test_readme_first_python_example_runs(capsys):
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "(200, 100)" in out and "syn_ops" in out


def test_readme_every_python_example_runs():
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 2
    for code in blocks[1:]:
        exec(compile(code, "README.md", "exec"), {})
