"""MkDocs hook: the Sphinx roles of the docstrings (``:func:`~a.b.c```) as links to the API reference.

The docstrings are Sphinx-style, and mkdocstrings renders a role such as ``:class:`~reinforce_sb3.REINFORCE```
as the text ``:class:`` followed by the code ``~reinforce_sb3.REINFORCE``. This hook turns each one into a
cross-reference that mkdocs-autorefs resolves where the target is documented (and leaves as code where it
is not), showing the last part of the name after ``~`` as Sphinx does.
"""

from __future__ import annotations

import html
import re
from typing import Any

ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc|obj):<code>(?P<target>~?[\w.]+)</code>")


def _reference(match: re.Match[str]) -> str:
    target = match["target"]
    identifier = target.lstrip("~")
    title = identifier.rsplit(".", 1)[-1] if target.startswith("~") else identifier
    return f'<autoref identifier="{html.escape(identifier)}" optional><code>{html.escape(title)}</code></autoref>'


def sphinx_roles_to_references(text: str) -> str:
    """``text`` (a page's HTML) with every rendered Sphinx role made an optional cross-reference."""
    return ROLE.sub(_reference, text)


def on_page_content(html_text: str, **kwargs: Any) -> str:
    """MkDocs event: runs on each page's HTML before mkdocs-autorefs resolves the references."""
    return sphinx_roles_to_references(html_text)
