"""The documentation site (``docs/``, ``mkdocs.yml``): its code runs, its reference is whole.

* Every ```python block of every page runs as printed against a served emulator, as the README's
  do (``doc_blocks``). The examples the docs share with the README (the FastAPI app, the aiogram
  bot, the pytest plugin example) must be the README's, verbatim: ``tests/test_readme.py`` drives
  those further (requests, updates, a fresh pytest project), so that covers both.
* The API reference names every public name of ``mysms_async``, ``mysms_async.campaigns`` and
  ``mysms_async.testing`` (their ``__all__``), and nothing that is not one, so a new export
  cannot be forgotten.
* The ``mysms`` reference is generated from the command's parser by ``docs/_hooks``: every
  command, subcommand and option appears, and a parser the hook has never seen is walked whole.
* The docstrings' reST roles (``:class:`X```) and ``::`` are rendered as Markdown.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import re
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
from doc_blocks import (  # noqa: F401 - fixtures used below
    ROOT,
    Block,
    gateway_fixture,
    only_block,
    python_blocks,
    run_block,
)

from mysms_async.testing import FakeGateway

DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if not p.relative_to(DOCS).parts[0].startswith("_"))
BLOCKS = [block for page in PAGES for block in python_blocks(page)]
README_BLOCKS = python_blocks(ROOT / "README.md")
PUBLIC_MODULES = ("mysms_async", "mysms_async.campaigns", "mysms_async.testing")
SHARED_WITH_README = ("FastAPI(", "Dispatcher(", "def test_signup")


def _load(name: str) -> ModuleType:
    """One of the build's own modules under ``docs/_hooks``."""
    spec = importlib.util.spec_from_file_location(name, DOCS / "_hooks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cli_reference = _load("cli_reference")


# --- the python blocks -----------------------------------------------------------------------


def test_every_guide_has_code_that_runs() -> None:
    pages_with_code = {Path(b.origin).relative_to("docs").as_posix() for b in BLOCKS}
    guides = {p.relative_to(DOCS).as_posix() for p in (DOCS / "guides").glob("*.md")}
    assert len(guides) == 6
    assert guides | {"getting-started.md"} <= pages_with_code


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
async def test_every_python_block_runs_as_printed(gateway: FakeGateway, block: Block) -> None:
    await run_block(block)


@pytest.mark.parametrize("marker", SHARED_WITH_README)
def test_examples_shared_with_the_readme_are_the_readmes(marker: str) -> None:
    assert only_block(BLOCKS, marker).source == only_block(README_BLOCKS, marker).source


async def test_the_campaign_worker_sends_a_campaign_made_elsewhere(
    gateway: FakeGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PostgreSQL guide's worker only defines ``worker``; run it, here on a SQLite journal."""
    from mysms_async.campaigns import Journal

    url = f"sqlite:///{tmp_path}/journal.db"
    monkeypatch.setenv("MYSMS_JOURNAL", url)
    rows = [{"destination": f"7911222{i:04d}", "text": f"Hello {i}"} for i in range(7)]
    with Journal(url) as journal:
        await journal.create("spring", rows)
    namespace = await run_block(only_block(BLOCKS, "async def worker("))
    assert gateway.messages == {}  # defining it sent nothing
    await namespace["worker"]("spring")
    assert sorted(m.text for m in gateway.messages.values()) == sorted(r["text"] for r in rows)
    with Journal(url) as journal:
        assert journal.campaign("spring").report().counts["accepted"] == 7


# --- the API reference -----------------------------------------------------------------------


def _directives() -> set[str]:
    found = set()
    for page in (DOCS / "reference").glob("*.md"):
        found.update(re.findall(r"^::: ([\w.]+)\s*$", page.read_text(encoding="utf-8"), re.M))
    return found


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_is_in_the_api_reference(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = {f"{module_name}.{name}" for name in module.__all__} - _directives()
    assert not missing, f"add a ::: directive to docs/reference/ for {sorted(missing)}"


def test_the_api_reference_names_only_public_names() -> None:
    public = {
        f"{name}.{member}"
        for name in PUBLIC_MODULES
        for member in importlib.import_module(name).__all__
    }
    stray = _directives() - public - set(PUBLIC_MODULES)
    assert not stray, f"not exported (any more?): {sorted(stray)}"


# --- the command reference -------------------------------------------------------------------


def _sections(markdown: str) -> dict[str, str]:
    """Each generated section's text, by its command (the heading's code span)."""
    parts = re.split(r"^#{2,4} `([^`]+)`\n", markdown, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_the_command_reference_has_every_command_and_option() -> None:
    from mysms_async._cli._args import build_parser

    sections = _sections(cli_reference.render())
    expected = {"mysms", "mysms send", "mysms bulk", "mysms status", "mysms wait"}
    expected |= {"mysms balance", "mysms emulator", "mysms campaign"}
    expected |= {f"mysms campaign {a}" for a in ("create", "run", "track", "status", "export")}
    assert expected | {"mysms campaign resolve"} <= set(sections)

    def check(parser: argparse.ArgumentParser, command: str) -> None:
        for action in parser._actions:
            for option in action.option_strings:
                assert option in sections[command], (command, option)
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    assert f"`{command} {name}`" in sections[command]  # the table of commands
                    check(sub, f"{command} {name}")

    check(build_parser(), "mysms")


def test_the_command_reference_walks_any_depth() -> None:
    parser = argparse.ArgumentParser(prog="tool")
    level1 = parser.add_subparsers().add_parser("outer", help="the outer one")
    level2 = level1.add_subparsers().add_parser("inner", help="the inner one | piped")
    level2.add_argument("--deep-option", help="found three levels down")
    sections = _sections(cli_reference.render(parser))
    assert list(sections) == ["tool", "tool outer", "tool outer inner"]
    assert "--deep-option" in sections["tool outer inner"]
    assert "found three levels down" in sections["tool outer inner"]
    assert "| `tool outer inner` | the inner one &#124; piped |" in sections["tool outer"]


def test_the_command_page_is_filled_in_by_the_hook() -> None:
    page = SimpleNamespace(file=SimpleNamespace(src_uri=cli_reference.PAGE))
    text = (DOCS / cli_reference.PAGE).read_text(encoding="utf-8")
    rendered = cli_reference.on_page_markdown(text, page=page)
    assert cli_reference.MARKER not in rendered
    assert "## `mysms campaign`" in rendered and "--sandbox-balance" in rendered
    other = SimpleNamespace(file=SimpleNamespace(src_uri="index.md"))
    assert cli_reference.on_page_markdown(cli_reference.MARKER, page=other) == cli_reference.MARKER


def test_a_command_page_without_its_marker_fails_the_build() -> None:
    from mkdocs.exceptions import PluginError

    page = SimpleNamespace(file=SimpleNamespace(src_uri=cli_reference.PAGE))
    with pytest.raises(PluginError, match="marker"):
        cli_reference.on_page_markdown("# The `mysms` command\n", page=page)


# --- docstrings rendered as Markdown ---------------------------------------------------------


@pytest.mark.parametrize(
    ("docstring", "markdown"),
    [
        ("see :class:`FakeGateway`.", "see `FakeGateway`."),
        (":meth:`~mysms_async.campaigns.Campaign.run` and :mod:`._rules`", "`run` and `._rules`"),
        (
            "In-process::\n\n    gateway = FakeGateway()\n",
            "In-process:\n\n    gateway = FakeGateway()\n",
        ),
        ("Text.\n\n::\n\n    code\n", "Text.\n\n\n    code\n"),
        ("``a::b`` and ``x::y`` stay", "``a::b`` and ``x::y`` stay"),
    ],
)
def test_docstrings_lose_their_rest_roles_in_the_reference(docstring: str, markdown: str) -> None:
    assert _load("sphinx_roles").to_markdown(docstring) == markdown


def test_every_public_callable_and_class_has_a_docstring() -> None:
    """The API reference renders docstrings: a public name without one is a hole in it (the
    same check ``.ci/docs`` runs before the strict build)."""
    spec = importlib.util.spec_from_file_location(
        "missing_docstrings", DOCS / "_scripts" / "missing_docstrings.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert list(script.missing()) == []
