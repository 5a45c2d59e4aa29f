"""The reports' jinja2 templates (templates/ at the top, linked as fairness/templates), and a
user's own: `--template-dir DIR`.

A file in DIR named as a built-in template replaces it; the others stay built-in. A user's
template may extend the built-in one it replaces as "builtin/NAME" (`{% extends
"builtin/report.html.j2" %}`) and override its blocks. Templates render under StrictUndefined,
so a template that uses a variable the report does not define fails with one error naming the
file, the line and the variable, rather than printing an empty string into the report.

HTML templates are autoescaped. report.tex.j2 uses LaTeX-friendly delimiters (`\\VAR{x}`,
`\\BLOCK{for ...}`, `\\#{...}` comments), since `{{` and `{%` are ordinary LaTeX; its strings are
passed already escaped for LaTeX.
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path

import jinja2

from ..errors import FairnessError

BUILTIN = ("report.html.j2", "report.tex.j2", "zoo.html.j2")
_LATEX_SYNTAX = {"block_start_string": r"\BLOCK{", "block_end_string": "}", "variable_start_string": r"\VAR{",
                 "variable_end_string": "}", "comment_start_string": r"\#{", "comment_end_string": "}",
                 "trim_blocks": True, "autoescape": False}


def check_template_dir(template_dir: str | Path | None) -> None:
    """Refuse a folder that does not exist or holds no template named as a built-in one (a typo
    there would otherwise silently render the built-in report)."""
    if template_dir is None:
        return
    folder = Path(template_dir)
    if not folder.is_dir():
        raise FairnessError(f"--template-dir {template_dir}: no such folder; give a folder holding templates "
                            f"named as the built-in ones ({', '.join(BUILTIN)})")
    if not any((folder / name).is_file() for name in BUILTIN):
        found = sorted(p.name for p in folder.iterdir() if p.is_file())[:8]
        raise FairnessError(f"--template-dir {template_dir}: holds none of the template names "
                            f"{', '.join(BUILTIN)} (it holds {', '.join(found) or 'no files'}); name your template "
                            f"as the built-in one it replaces")


def _environment(template_dir: str | Path | None, latex: bool) -> jinja2.Environment:
    builtin = jinja2.PackageLoader("fairness", "templates")
    loaders = [builtin, jinja2.PrefixLoader({"builtin": builtin}, delimiter="/")]
    if template_dir is not None:
        loaders.insert(0, jinja2.FileSystemLoader(str(template_dir)))
    options = _LATEX_SYNTAX if latex else {"autoescape": jinja2.select_autoescape(["html", "j2"], default=True)}
    return jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, **options)


def render_template(name: str, template_dir: str | Path | None = None, **variables) -> str:
    """`name` rendered with `variables`, from `template_dir` where it holds one, else built-in."""
    check_template_dir(template_dir)
    env = _environment(template_dir, latex=name.endswith(".tex.j2"))
    try:
        return env.get_template(name).render(**variables)
    except jinja2.TemplateSyntaxError as e:
        if template_dir is None:
            raise  # a built-in template that does not parse is a bug: the traceback shows where
        raise FairnessError(f"--template-dir {template_dir}: {_short(e.filename, template_dir) or name} line "
                            f"{e.lineno}: {e.message}; fix the template's syntax") from None
    except jinja2.TemplateNotFound as e:
        if template_dir is None:
            raise
        raise FairnessError(f"--template-dir {template_dir}: {name} refers to the template {e.name}, which is "
                            f"neither in the folder nor built in ({', '.join(BUILTIN)}; a built-in one as "
                            f"builtin/NAME)") from None
    except jinja2.UndefinedError as e:
        if template_dir is None:
            raise
        where = _template_frame(e, template_dir)
        used = re.search(r"'([^']+)' is undefined|has no attribute '([^']+)'", str(e))
        what = next(g for g in used.groups() if g) if used else str(e)
        raise FairnessError(f"--template-dir {template_dir}: {where or name} uses '{what}', which the report does "
                            f"not define; the variables are: {', '.join(sorted(variables))}") from None
    except Exception as e:  # noqa: BLE001 - only where the user's own template raised it
        where = _template_frame(e, template_dir) if template_dir is not None else ""
        if not where or where.startswith("builtin/"):
            raise  # raised in a built-in template or in fairness: a bug, with its traceback
        raise FairnessError(f"--template-dir {template_dir}: {where}: {type(e).__name__}: {e}; fix the "
                            f"template") from None


def _short(filename: str | None, template_dir: str | Path) -> str:
    """A template's file as the user knows it: its name in their folder, or builtin/NAME."""
    if not filename:
        return ""
    path = Path(filename)
    try:
        return str(path.resolve().relative_to(Path(template_dir).resolve()))
    except ValueError:
        return f"builtin/{path.name}"


def _template_frame(error: Exception, template_dir: str | Path) -> str:
    """'NAME line N' of the innermost template frame: jinja2 rewrites its tracebacks so that a
    template's frames carry its file and line."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.endswith(".j2")]
    return f"{_short(frames[-1].filename, template_dir)} line {frames[-1].lineno}" if frames else ""
