"""MkDocs hook: the Sphinx markup of the docstrings as MkDocs shows it best.

The docstrings are Sphinx-style, and mkdocstrings renders a role such as ``:class:`~reinforce_sb3.REINFORCE```
as the text ``:class:`` followed by the code ``~reinforce_sb3.REINFORCE``. This hook turns each one into a
cross-reference that mkdocs-autorefs resolves where the target is documented (and leaves as code where it
is not), showing the last part of the name after ``~`` as Sphinx does. Square brackets that name no Python
object (an optional argument in a usage line) stay text, ``Example::`` reads ``Example:``, and a text block
that shows an error message gets the class ``message`` (``stylesheets/extra.css`` wraps its long lines).
"""

from __future__ import annotations

import html
import re
from typing import Any

ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc|obj):<code>(?P<target>~?[\w.]+)</code>")
MESSAGE = re.compile(
    r'<div class="language-text highlight">'
    r"(?=<pre><span></span><code>(?:\w+(?:Error|Warning|Exception)|python -m [\w.]+: error):)"
)
AUTOREF = re.compile(r"<autoref (?P<attrs>[^>]*)>(?P<title>.*?)</autoref>", re.S)
IDENTIFIER = re.compile(r'(?:^| )identifier="(?P<identifier>[^"]*)"')
NAME = re.compile(r"[A-Za-z_][\w.]*")


def _reference(match: re.Match[str]) -> str:
    target = match["target"]
    identifier = target.lstrip("~")
    title = identifier.rsplit(".", 1)[-1] if target.startswith("~") else identifier
    return f'<autoref identifier="{html.escape(identifier)}" optional><code>{html.escape(title)}</code></autoref>'


def sphinx_roles_to_references(text: str) -> str:
    """``text`` (a page's HTML) with every rendered Sphinx role made an optional cross-reference."""
    return ROLE.sub(_reference, text)


def _unless_a_name(match: re.Match[str]) -> str:
    found = IDENTIFIER.search(match["attrs"])
    if found is None or NAME.fullmatch(found["identifier"]):
        return match[0]
    identifier, title = html.escape(html.unescape(found["identifier"])), match["title"]
    # "[a] [b]" is Markdown's reference link to b titled a
    return f"[{title}]" if title == identifier else f"[{title}] [{identifier}]"


def brackets_as_text(text: str) -> str:
    """``text`` with Markdown's ``[...]`` that name no Python object (``[--out tree.png]`` in a usage line) as text.

    Markdown reads ``[x]`` as a reference to ``x``; in a docstring's usage line it is an optional argument.
    """
    return AUTOREF.sub(_unless_a_name, text)


def on_page_content(html_text: str, **kwargs: Any) -> str:
    """MkDocs event: runs on each page's HTML before mkdocs-autorefs resolves the references."""
    html_text = html_text.replace("::</p>", ":</p>")  # a Sphinx literal block's "Example::" reads "Example:"
    html_text = MESSAGE.sub('<div class="language-text highlight message">', html_text)  # wrapped by extra.css
    return brackets_as_text(sphinx_roles_to_references(html_text))
