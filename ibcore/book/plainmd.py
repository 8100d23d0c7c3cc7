"""MyST Markdown as plain Jupyter Markdown (all chapters): what a notebook opened outside the
book (Jupyter, Colab, a standalone HTML page) shows instead of raw directives and roles.

Directives fenced by colons (``:::{admonition} Title``, ``::::{dropdown} …``, ``:::{margin}``)
become block quotes headed by their title in bold; their option lines (``:class: …``) go. Roles
become their text: ``{cite:t}`key``` → ``key``, ``{doc}`text <path>``` → ``text``, ``{ref}``,
``{numref}``, ``{eq}`` and ``{term}`` likewise; ``{math}`x``` → ``$x$``.
"""

from __future__ import annotations

import re

_OPEN = re.compile(r"^(:{3,})\{([a-z-]+)\}\s*(.*)$")
_OPTION = re.compile(r"^:[a-z-]+:.*$")
_ROLE = re.compile(r"\{(cite:[tp]|cite|doc|ref|numref|eq|term|math)\}`([^`]*)`")


def _role(m: re.Match[str]) -> str:
    kind, text = m.group(1), m.group(2)
    if kind == "math":
        return f"${text}$"
    label = re.match(r"^(.*?)\s*<[^>]*>$", text)
    return (label.group(1) if label else text) if kind in ("doc", "ref", "numref", "term") else text


def plain_markdown(text: str) -> str:
    """``text`` with MyST directives as block quotes and roles as their text (see module)."""
    out: list[str] = []
    stack: list[str] = []  # the fences of the open directives
    for line in text.split("\n"):
        m = _OPEN.match(line.strip())
        if m:
            stack.append(m.group(1))
            title = m.group(3).strip() or m.group(2).capitalize()
            out.append("> " * (len(stack) - 1) + f"> **{title}**")
            out.append("> " * len(stack))
            continue
        if stack and line.strip() == stack[-1]:
            stack.pop()
            if not stack:
                out.append("")
            continue
        if stack and _OPTION.match(line.strip()):
            continue
        line = _ROLE.sub(_role, line)
        out.append(("> " * len(stack) + line).rstrip() if stack else line)
    return "\n".join(out)
