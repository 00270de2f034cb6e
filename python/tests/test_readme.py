"""The README's Python example runs as written."""
import os
import shutil

from conftest import ROOT


def test_readme_example(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    start = text.index("```python\n", text.index("<!-- python example -->")) + len("```python\n")
    code = text[start : text.index("```", start)]
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    exec(compile(code, "README.md", "exec"), {})
    assert os.path.getsize(tmp_path / "darcy.png") > 1000
