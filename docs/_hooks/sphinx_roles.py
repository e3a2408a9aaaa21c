"""Griffe extension: render the package's reStructuredText touches as Markdown.

The docstrings use a little reST that Markdown would print raw: roles such as
``:class:`FakeGateway```, ``:meth:`~Campaign.run``` and ``:mod:`._rules```, and ``text::``
introducing an indented literal block (an indented block is already code in Markdown). Here a
role becomes inline code of its target (``~`` keeps the last part) and ``::`` a single colon.
Only the rendered copy changes, never the package. ``tests/test_docs.py`` imports it too.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")
_LITERAL = re.compile(r"(?m)(\S)::[ \t]*$|^[ \t]*::[ \t]*$\n?")


def _target(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def _literal(match: re.Match[str]) -> str:
    return f"{match.group(1)}:" if match.group(1) else ""


def to_markdown(text: str) -> str:
    """``text`` with its reST roles and ``::`` markers turned into Markdown."""
    return _LITERAL.sub(_literal, _ROLE.sub(_target, text))


class SphinxRoles(griffe.Extension):
    """Rewrites each object's docstring with :func:`to_markdown` as griffe loads it."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
