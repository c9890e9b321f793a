"""Help text reflowed for the reader's terminal, whatever its width.

The verbs' docstrings are wrapped at ~105 columns to read well in the source. typer's rich mode keeps
every line break of a docstring, so on an 80-column terminal each of those lines wrapped again and
every paragraph came out ragged: a full line, a stub of a few words, a full line, a stub. Here each
prose paragraph and each bullet becomes one line, which rich then wraps to the terminal's width.
Indented paragraphs (examples, commands to copy) keep their lines exactly, and so does a paragraph
marked with click's no-rewrap `\\b`.
"""

from __future__ import annotations

import inspect
from typing import Any

_BULLETS = ("- ", "* ")


def reflow(text: str) -> str:
    """`text` (a docstring) with the line breaks inside each prose paragraph and each bullet removed;
    blank lines between paragraphs, bullets' own lines and indented paragraphs are kept."""
    return "\n\n".join(_reflow_paragraph(p) for p in inspect.cleandoc(text).split("\n\n"))


def _reflow_paragraph(paragraph: str) -> str:
    lines = paragraph.split("\n")
    if lines[0][:1].isspace() or paragraph.startswith("\b"):
        return paragraph
    items: list[list[str]] = []
    for line in lines:
        if not items or line.startswith(_BULLETS):
            items.append([line.rstrip()])
        else:  # a wrapped line of the prose or of the bullet above (indented under it or not)
            items[-1].append(line.strip())
    return "\n".join(" ".join(part for part in item if part) for item in items)


def reflow_command(command: Any) -> None:
    """Reflow the help of a click command and, for a group, of every sub-command under it."""
    if command.help:
        command.help = reflow(command.help)
    for sub in getattr(command, "commands", {}).values():
        reflow_command(sub)
