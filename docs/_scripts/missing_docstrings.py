"""List the public callables and classes of the documented modules that have no docstring.

``python docs/_scripts/missing_docstrings.py``: every name in the ``__all__`` of ``mysms_async``,
``mysms_async.campaigns`` and ``mysms_async.testing`` that is a class or a callable, and every
public method or property a public class defines itself, whose own docstring is empty. Exits 1
when there is any, so that it can become a CI step once they are written (as can mkdocstrings'
missing-docstring warnings, which fail the strict build).
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Iterator

MODULES = ("mysms_async", "mysms_async.campaigns", "mysms_async.testing")


def _own_doc(obj: object) -> str:
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    return (doc or "").strip()


def missing() -> Iterator[str]:
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isroutine(obj)):
                continue  # constants and type aliases: documented on their page's section
            if not _own_doc(obj):
                yield f"{module_name}.{name}"
            if not inspect.isclass(obj):
                continue
            for member, value in vars(obj).items():
                if member.startswith("_"):
                    continue
                target = value.fget if isinstance(value, property) else value
                if isinstance(target, (staticmethod, classmethod)):
                    target = target.__func__
                if (inspect.isroutine(target) or isinstance(value, property)) and not (
                    (getattr(target, "__doc__", None) or "").strip()
                ):
                    yield f"{module_name}.{name}.{member}"


if __name__ == "__main__":
    names = list(missing())
    print("\n".join(names), flush=True)
    print(f"{len(names)} public callables or classes without a docstring", file=sys.stderr)
    sys.exit(1 if names else 0)
