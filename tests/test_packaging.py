"""Issue 18, item 3: the distribution's metadata says what the code and CI do.

One version (``mysms_async.__version__``, which ``pyproject.toml`` reads), the Python classifiers
that the test matrix runs (noxfile.py reads them), and no development tool offered to users as an
install extra.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path
from typing import Any

import mysms_async

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest brings tomli on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT: dict[str, Any] = PYPROJECT["project"]
DEV_TOOLS = {"pytest", "pytest-asyncio", "ruff", "mypy", "hypothesis", "respx", "nox", "build"}


def test_the_version_lives_in_one_place_and_the_distribution_agrees() -> None:
    assert "version" not in PROJECT, "a second copy of the version in pyproject.toml"
    assert "version" in PROJECT["dynamic"]
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "mysms_async.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?", mysms_async.__version__)
    assert importlib.metadata.version("mysms-async") == mysms_async.__version__


def test_the_python_classifiers_start_at_requires_python_and_have_no_gap() -> None:
    classifiers: list[str] = PROJECT["classifiers"]
    prefix = "Programming Language :: Python :: 3."
    minors = [int(c[len(prefix) :]) for c in classifiers if c.startswith(prefix)]
    assert minors == list(range(10, 14)), minors
    assert PROJECT["requires-python"] == ">=3.10"
    for needed in ("Typing :: Typed", "Framework :: AsyncIO", "Framework :: Trio"):
        assert needed in classifiers
    installed = importlib.metadata.metadata("mysms-async").get_all("Classifier") or []
    assert installed == classifiers


def test_no_development_tool_is_offered_as_an_install_extra() -> None:
    for extra, requirements in PROJECT["optional-dependencies"].items():
        names = {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower() for r in requirements}
        assert not names & DEV_TOOLS, (extra, names & DEV_TOOLS)
    groups = PYPROJECT["dependency-groups"]
    assert {"pytest", "ruff", "mypy", "nox", "build"} <= {
        re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower()
        for group in ("test-core", "test", "dev")
        for r in groups[group]
        if isinstance(r, str)
    }
