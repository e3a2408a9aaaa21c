"""Run the ```python blocks of a Markdown file as printed, against a served emulator.

Shared by ``tests/test_readme.py`` (README.md) and ``tests/test_docs.py`` (every page under
``docs/``). Each block is compiled with top-level ``await`` allowed and run in a fresh namespace,
with ``MYSMS_USERNAME``, ``MYSMS_PASSWORD``, ``MYSMS_SENDER`` and ``MYSMS_BASE_URL`` pointing at
a ``FakeGateway`` served on a loopback port (account demo / demo-password, sender MySMS), as a
reader who ran ``mysms emulator`` would have them.

Only blocks fenced ```python run; shell commands are fenced ```sh and diagrams ```text. A block
that must not run all the way (a bot's polling loop, a worker's entry point) keeps that part
under ``if __name__ == "__main__":``: a block runs with a ``__name__`` of its own, so it only
defines what it defines, and the tests then use those definitions as a reader would.

A test module takes the fixtures ``served`` (module-scoped) and ``gateway`` (reset for each test)
by importing them: ``from doc_blocks import gateway_fixture, served_fixture``.
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mysms_async.testing import DEMO_PASSWORD, DEMO_SENDER, DEMO_USERNAME, FakeGateway

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Block:
    origin: str  # the file, relative to the repository's root
    line: int  # of the opening fence, 1-based
    source: str

    @property
    def id(self) -> str:
        return f"{self.origin}:{self.line}"


def python_blocks(path: Path) -> list[Block]:
    """Every ```python block of ``path``, in order."""
    text = path.read_text(encoding="utf-8")
    origin = path.resolve().relative_to(ROOT).as_posix()
    return [
        Block(origin, text.count("\n", 0, match.start()) + 1, match.group(1))
        for match in re.finditer(r"^```python\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    ]


def only_block(blocks: list[Block], marker: str) -> Block:
    """The one block of ``blocks`` that contains ``marker``."""
    (block,) = [b for b in blocks if marker in b.source]
    return block


async def run_block(block: Block) -> dict[str, Any]:
    """Run ``block`` as printed; its namespace afterwards."""
    code = compile(block.source, block.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    stem = re.sub(r"\W", "_", Path(block.origin).stem.lower())
    namespace: dict[str, Any] = {"__name__": f"{stem}_line_{block.line}"}
    result = eval(code, namespace)  # a coroutine when the block awaits at top level
    if inspect.iscoroutine(result):
        await result
    return namespace


@pytest.fixture(name="gateway")
def gateway_fixture(
    served: tuple[FakeGateway, str], monkeypatch: pytest.MonkeyPatch
) -> FakeGateway:
    fake, base_url = served  # the session's emulator (tests/conftest.py), already reset
    for name in ("MYSMS_FORMAT", "MYSMS_METHOD", "MYSMS_JOURNAL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MYSMS_USERNAME", DEMO_USERNAME)
    monkeypatch.setenv("MYSMS_PASSWORD", DEMO_PASSWORD)
    monkeypatch.setenv("MYSMS_SENDER", DEMO_SENDER)
    monkeypatch.setenv("MYSMS_BASE_URL", base_url)
    return fake
