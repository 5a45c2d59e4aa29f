"""User files (YAML): read safely, with errors that name the file, line and column."""

from __future__ import annotations

from pathlib import Path

import yaml

from .errors import FairnessError


MAX_NAME = 200  # characters in a model or comparison name: longer ones are data, not names


def check_name(name, what: str) -> str:
    """A name users give (models, comparisons): a short single-line string."""
    if not isinstance(name, str) or not name.strip():
        raise FairnessError(f"{what}: expected a non-empty name, got {name!r}")
    if len(name) > MAX_NAME or "\n" in name:
        raise FairnessError(f"{what}: a name of {len(name)} characters{' over several lines' if chr(10) in name else ''}; "
                            f"expected one line of at most {MAX_NAME}")
    return name


def read_yaml(path: str, what: str):
    """The parsed file, by yaml.safe_load (no tags that build objects). `what` names the file
    in errors, e.g. "claims file x.yaml" or "--family x.yaml"."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise FairnessError(f"{what}: {e.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        if mark is None and isinstance(getattr(e, "position", None), int):  # a reader error: a bad character
            line, column = text.count("\n", 0, e.position) + 1, e.position - text.rfind("\n", 0, e.position)
        where = f" at line {line}, column {column}" if line else ""
        # PyYAML's own words say what is wrong; a reader error has no `problem` and says it
        # in its first line.
        problem = getattr(e, "problem", None) or str(e).strip().splitlines()[0]
        context, start = getattr(e, "context", None), getattr(e, "context_mark", None)
        if context and start and (start.line + 1, start.column + 1) != (line, column):
            context += f" started at line {start.line + 1}, column {start.column + 1}"
        why = " ".join((f"{problem} ({context})" if context else problem).split())  # one line
        raise FairnessError(f"{what}: not valid YAML{where}: {why}") from None
