"""Every user string (a model name, a claim, a keyword argument, a zoo's title) made inert in one
output format: one function per format, used by every renderer of that format.

HTML is escaped by jinja2's autoescape in the templates (templates.py), and CSV by the csv module;
Markdown and LaTeX have no such machinery, so their escapers live here.
"""

from __future__ import annotations

import re

# --- Markdown (CommonMark and GitHub's: report.md, audit, zoo and merge tables) -------------------


def md(text) -> str:
    """A user's string as Markdown text that cannot become markup: HTML tags and entities, emphasis,
    links and images, code, headings and table cells are escaped; one line."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|#!{}])", r"\\\1", text).replace("\r", " ").replace("\n", " ")


def md_table(header: list, rows: list[list]) -> list[str]:
    """A Markdown table's lines, every cell escaped: a model named like a link or an HTML tag stays
    text, and a | cannot split a cell."""
    return (["| " + " | ".join(md(c) for c in header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(md(c) for c in r) + " |" for r in rows])


# --- LaTeX (tables and figure labels in text mode) ------------------------------------------------

# $, <, >, | and \ go through math mode, and ~ and ^ are the accents on nothing: their text
# commands (\textdollar, which \$ is, \textless, \textasciitilde, ...) live in the TS1 encoding,
# whose fonts many TeX installations have only as bitmaps: Type 3 fonts in the PDF (issue 32).
_TEX = {"&": r"\&", "%": r"\%", "$": r"$\$$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
        "~": r"\~{}", "^": r"\^{}", "\\": r"$\backslash$", "<": r"$<$", ">": r"$>$", "|": r"$|$"}


def tex(text) -> str:
    """Any user string safe in LaTeX text mode. A hyphen before a hyphen is kept apart from it:
    "--min-time" would print an en dash."""
    return re.sub(r"[&%$#_{}~^\\<>|]|-(?=-)", lambda m: _TEX.get(m.group(), "-{}"), str(text))
