"""YAML text as plain data, the one way every musicrfm file format reads it.

>>> parse_yaml("strength: 1e-3", "job.yaml")
{'strength': 0.001}
"""

from __future__ import annotations

import re

import yaml


class NumberLoader(yaml.SafeLoader):
    """SafeLoader that also reads 1e-05 and 1.0e5 as floats (YAML 1.1 wants a dot and a signed exponent)."""


NumberLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def parse_yaml(text: str, where: str, error: type[ValueError] = ValueError, *, expected: str = "YAML") -> object:
    """Parse `text` safely; a syntax error raises `error` naming `where`, the problem and its line."""
    try:
        return yaml.load(text, Loader=NumberLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(f"{where}: not valid {expected}: {getattr(exc, 'problem', None) or 'unreadable'}{at}") from exc
