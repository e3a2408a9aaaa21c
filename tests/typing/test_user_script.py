"""``tests/typing/user_script.py``, every public call as a user writes it, passes mypy --strict;
so does the README's bulk snippet, as printed.

``.ci/types`` checks the script with pyright too, against the built wheel; this test keeps the
suite catching a regression (say, ``status_many`` refusing the ``str | None`` ids that
``send_many``'s results give) without a wheel. mypy's cache is copied from the checkout's, when
there is one (``.ci/run`` makes it with ``mypy --strict mysms_async``), so a warm run takes a
few seconds; everything is written under ``tmp_path``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from doc_blocks import ROOT, only_block, python_blocks

SCRIPT = Path(__file__).with_name("user_script.py")


def test_user_script_and_readme_bulk_snippet_pass_mypy_strict(tmp_path: Path) -> None:
    # The README's block runs at top level with `await` (as `python -m asyncio` allows): wrapped
    # in a coroutine function, as printed otherwise.
    bulk = only_block(python_blocks(ROOT / "README.md"), "await sms.status_many(ids)")
    snippet = tmp_path / "readme_bulk.py"
    snippet.write_text(
        "async def readme_bulk_snippet() -> None:\n" + textwrap.indent(bulk.source, "    "),
        encoding="utf-8",
    )
    cache = tmp_path / "mypy_cache"
    if (ROOT / ".mypy_cache").is_dir():
        shutil.copytree(ROOT / ".mypy_cache", cache)
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(cache),
            str(SCRIPT.relative_to(ROOT)),
            str(snippet),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Success: no issues found in 2 source files" in checked.stdout
