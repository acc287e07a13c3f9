"""Read job files (YAML or JSON) into validated `JobSpec`s.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "jobs.yaml"
>>> _ = path.write_text("prompts: [calm piano]\\nduration: 1.5\\n")
>>> load_job(path).duration_s
1.5
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from musicrfm import yaml_text
from musicrfm.jobs.fields import JobError
from musicrfm.jobs.spec import JobSpec, parse_job

JOB_SUFFIXES = (".yaml", ".yml", ".json")


def load_job(path: str | os.PathLike) -> JobSpec:
    """Parse and validate the job file `path`; schedule files and the probe folder resolve beside it."""
    file = Path(path)
    if file.suffix.lower() not in JOB_SUFFIXES:
        raise JobError(f"{file}: a job file must end in {', '.join(JOB_SUFFIXES)}")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise JobError(f"{file}: cannot be read ({error.__class__.__name__}: {error})") from error
    return parse_job(_parse(text, file), source=str(file), base_dir=file.parent)


def _parse(text: str, file: Path) -> object:
    if file.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise JobError(f"{file}: not valid JSON: {error.msg} at line {error.lineno}") from error
    return parse_yaml(text, str(file))


def parse_yaml(text: str, where: str) -> object:
    """YAML text as plain data (safe loader, 1e-5 read as a number); errors name `where` and the line."""
    return yaml_text.parse_yaml(text, where, JobError)
