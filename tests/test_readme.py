"""The README's Python examples name things that exist: every import line of its code blocks runs."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
IMPORTS = [line.split("#")[0].strip() for block in BLOCKS for line in block.splitlines()
           if re.match(r"\s*(from musicrfm[\w.]* import|import musicrfm)", line)]


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 3 and len(IMPORTS) >= 5


@pytest.mark.parametrize("line", IMPORTS)
def test_every_readme_import_resolves(line):
    exec(line, {})  # noqa: S102 - the README's own import lines, nothing else
