"""The README's Python examples run, in order, and print what their comments say."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run():
    skip = "<!-- not run by tests/test_readme.py"
    blocks = [
        code
        for before, code in re.findall(r"(.{0,120})```python\n(.*?)```", README.read_text(), re.S)
        if skip not in before
    ]
    assert blocks
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)
    printed = out.getvalue()
    assert "[1 0] 3.0 False False {'prob': 1.0}" in printed
    assert "\n2.636\n" in printed
    assert "[-0.52 10.  ] [-7.    0.56] [0.   3.78]" in printed
    assert "10.7804" in printed
    assert "{(1, 0): 0.7} {(1, 0): array([-10.  ,   0.62])}" in printed
