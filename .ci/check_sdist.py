"""List an sdist and check it ships exactly what MANIFEST.in promises: every tracked file of the
package, the test suite, the examples and the benchmarks, plus the top-level files below, and
nothing else (no stray local file: a results CSV, a database a test left behind).

Usage: python .ci/check_sdist.py dist/mysms_async-<version>.tar.gz
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_DIRS = ("mysms_async/", "tests/", "examples/", "benchmarks/")
SHIPPED_FILES = {"pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "noxfile.py"}
#: Written by setuptools into every sdist.
GENERATED = {"PKG-INFO", "setup.cfg", "MANIFEST.in"}


def tracked() -> set[str]:
    """The files git tracks that the sdist must hold."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split("\0")
    return {
        name for name in listed if name and (name.startswith(SHIPPED_DIRS) or name in SHIPPED_FILES)
    }


def shipped(archive: Path) -> set[str]:
    with tarfile.open(archive) as tar:
        names = [member.name for member in tar.getmembers() if member.isfile()]
    files = {name.split("/", 1)[1] for name in names if "/" in name}
    return {name for name in files if name not in GENERATED and ".egg-info/" not in name}


def main() -> int:
    (archive,) = sys.argv[1:]
    have = shipped(Path(archive))
    for name in sorted(have):
        print(f"  {name}")
    by_dir: dict[str, int] = {}
    for name in have:
        top = name.split("/", 1)[0] + ("/" if "/" in name else "")
        by_dir[top] = by_dir.get(top, 0) + 1
    print(
        f"{Path(archive).name}: {len(have)} files: "
        + ", ".join(f"{top} {count}" for top, count in sorted(by_dir.items()))
    )
    try:
        want = tracked()
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"WARNING: not a git checkout ({exc}); sdist contents listed, not compared")
        return 0
    missing, extra = sorted(want - have), sorted(have - want)
    for name in missing:
        print(f"MISSING from the sdist: {name}")
    for name in extra:
        print(f"NOT TRACKED but in the sdist: {name}")
    return 1 if missing or extra else 0


if __name__ == "__main__":
    sys.exit(main())
