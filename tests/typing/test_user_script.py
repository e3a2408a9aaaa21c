"""``tests/typing/user_script.py``, every public call as a user writes it, passes mypy --strict.

``.ci/types`` checks it with pyright too, against the built wheel; this test keeps the suite
catching a regression (say, ``status_many`` refusing the ``str | None`` ids that ``send_many``'s
results give) without a wheel. mypy's cache is copied from the checkout's, when there is one
(``.ci/run`` makes it with ``mypy --strict mysms_async``), so a warm run takes a second or two;
everything is written under ``tmp_path``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("user_script.py")


def test_user_script_passes_mypy_strict(tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy is in the dev dependency group")
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
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Success: no issues found in 1 source file" in checked.stdout
