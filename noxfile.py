"""The test matrix, run locally with nox (a dev tool: ``pip install -e . --group dev``).

    nox -s tests                 # the whole suite on every supported Python (3.10-3.13)
    nox -s tests-3.10            # ... on one of them
    nox -s tests -- tests/core   # ... only some tests (pytest arguments after ``--``)
    nox -s lowest                # the whole suite on the LOWEST declared dependency versions
    nox -s sdist                 # build the sdist and check that it ships the test suite

The Python versions are the classifiers in ``pyproject.toml``; the lowest versions are its lower
bounds (``>=``) of the runtime dependencies and of every extra. ``.ci/run`` runs the full suite in
its own venv (the latest versions) and these sessions over a representative subset.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nox
from packaging.requirements import Requirement

nox.needs_version = ">=2025.2.9"
nox.options.sessions = ["tests", "lowest", "sdist"]
# uv (a dev tool) builds each session's venv and installs into it in seconds where pip takes half a
# minute; virtualenv + pip when uv is missing. Never a downloaded interpreter: a Python that is
# not installed must be a loud skip (.ci/run), not silently replaced.
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.download_python = "never"

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
PYTHONS: list[str] = nox.project.python_versions(PYPROJECT)
#: What the tests need: the package with every extra, pytest and the rest.
#: ``MYSMS_TEST_GROUP=test-core`` (what ``.ci/run`` sets for its subset) installs less.
TEST_REQUIREMENTS = nox.project.dependency_groups(
    PYPROJECT, os.environ.get("MYSMS_TEST_GROUP", "test")
)
#: Extras left at their latest in ``lowest``: ``docs`` is a tool, not a runtime dependency, and
#: ``otel``'s API must match the SDK and instrumentation the tests bring (its code is tested on the
#: latest only; it is imported only when installed).
UNPINNED_EXTRAS = frozenset({"docs", "otel"})
#: One pytest-xdist worker per core, as the README's test command runs the suite.
PYTEST_PARALLEL = ("-n", "auto", "--dist", "worksteal")


def _pyenv_on_path() -> None:
    """Let nox find pyenv's interpreters (``python3.10`` ...) when no shim exposes them."""
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = [
        str(bin_dir)
        for python in PYTHONS
        for bin_dir in sorted(versions.glob(f"{python}.*/bin"), reverse=True)
        if (bin_dir / f"python{python}").exists()
    ]
    os.environ["PATH"] = os.pathsep.join([*found, os.environ.get("PATH", "")])


_pyenv_on_path()


def lowest_pins(pyproject: dict[str, object] = PYPROJECT) -> list[str]:
    """``name==lower-bound`` for each runtime dependency and each extra's requirement.

    Raises ``ValueError`` for a requirement without a ``>=`` (or ``==``) bound: it could not be
    tested at its lowest.
    """
    project = pyproject["project"]
    assert isinstance(project, dict)
    requirements = list(project["dependencies"])
    for name, extra in project.get("optional-dependencies", {}).items():
        if name not in UNPINNED_EXTRAS:
            requirements.extend(extra)
    pins: dict[str, str] = {}
    for text in requirements:
        requirement = Requirement(text)
        bounds = [s.version for s in requirement.specifier if s.operator in (">=", "==")]
        if len(bounds) != 1:
            raise ValueError(f"dependency {text!r}: needs exactly one '>=' lower bound to pin")
        pins[requirement.name] = f"{requirement.name}=={bounds[0]}"
    return sorted(pins.values())


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite (or the pytest arguments given after ``--``), latest dependency versions."""
    session.install("-e", ".", *TEST_REQUIREMENTS)
    session.run("python", "-m", "pytest", *PYTEST_PARALLEL, *session.posargs)


@nox.session(python=PYTHONS[0])
def lowest(session: nox.Session) -> None:
    """The test suite on the oldest Python with every runtime and extra dependency at its lowest
    declared version (tools such as pytest stay at their latest)."""
    pins = lowest_pins()
    constraints = Path(session.create_tmp()) / "lowest-constraints.txt"
    constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
    session.log("lowest declared versions: " + ", ".join(pins))
    session.install("-c", str(constraints), "-e", ".", *TEST_REQUIREMENTS)
    names = [pin.partition("==")[0] for pin in pins]
    show = "import importlib.metadata as m, sys; [print(n, m.version(n)) for n in sys.argv[1:]]"
    session.run("python", "-c", show, *names)  # the log shows what was really tested
    session.run("python", "-m", "pytest", *PYTEST_PARALLEL, *session.posargs)


@nox.session(python=False)
def sdist(session: nox.Session) -> None:
    """Build the sdist outside the tree and check it ships every tracked test and example file."""
    with tempfile.TemporaryDirectory(prefix="mysms-sdist-") as out:
        session.run(sys.executable, "-m", "build", "--sdist", "--outdir", out, silent=True)
        (archive,) = Path(out).glob("*.tar.gz")
        session.run(sys.executable, ROOT / ".ci" / "check_sdist.py", str(archive))
