"""MkDocs hook: the ``mysms`` command reference, generated from the command's own parser.

``docs/cli.md`` holds :data:`MARKER`; at build time it is replaced by one section per parser
(``mysms``, each command, each ``campaign`` action), found by walking the parser that
``mysms_async._cli._args.build_parser`` makes, with a table of its subcommands and its own
``--help`` text. Nothing is copied by hand, so the page cannot drift from the code; a new
command or option appears on the next build. ``tests/test_docs.py`` imports this module too.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from typing import Any

MARKER = "<!-- mysms-cli-reference -->"
PAGE = "cli.md"
HELP_WIDTH = 100  # columns of the rendered --help, whatever the terminal that builds


def build_parser() -> argparse.ArgumentParser:
    from mysms_async._cli._args import build_parser as build

    return build()


def subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """``(name, one-line help, parser)`` for each subcommand of ``parser``, in their order."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            summaries = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found.append((name, summaries.get(name, ""), sub))
    return found


def walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser under ``parser`` (itself first), each with its command path."""
    yield path, parser
    for name, _, sub in subcommands(parser):
        yield from walk(sub, (*path, name))


def help_text(parser: argparse.ArgumentParser) -> str:
    """``parser``'s ``--help`` at :data:`HELP_WIDTH` columns (argparse reads ``COLUMNS``)."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(HELP_WIDTH + 2)
    try:
        return parser.format_help().rstrip()
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def render(parser: argparse.ArgumentParser | None = None) -> str:
    """The Markdown of the whole reference."""
    root = parser if parser is not None else build_parser()
    parts = []
    for path, sub in walk(root):
        command = " ".join((root.prog, *path))
        level = "#" * min(2 + max(len(path) - 1, 0), 4)
        parts.append(f"{level} `{command}`\n")
        rows = subcommands(sub)
        if rows:
            parts.append("| command | what it does |\n|---|---|")
            parts.extend(
                f"| `{command} {name}` | {summary.replace('|', '&#124;')} |"
                for name, summary, _ in rows
            )
            parts.append("")
        parts.append(f"```text\n{help_text(sub)}\n```\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """MkDocs event: put the generated reference where ``cli.md`` has the marker."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        from mkdocs.exceptions import PluginError

        raise PluginError(f"{PAGE} lost its marker {MARKER}: the command reference has no place")
    return markdown.replace(MARKER, render())
