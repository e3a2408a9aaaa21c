import ast
import builtins
import importlib
import subprocess
import sys
import typing
from pathlib import Path
from types import ModuleType

import pytest

import mysms_async
import mysms_async.campaigns
import mysms_async.testing
from mysms_async import GatewayError, RequestState

PUBLIC_PACKAGES = (mysms_async, mysms_async.campaigns, mysms_async.testing)


def public_names(package: ModuleType) -> set[str]:
    # pytest rewrites plugin packages and leaves "@py_builtins" behind: not ours.
    names = {n for n in dir(package) if not n.startswith(("_", "@"))}
    # Submodules imported for the package's own use show up too; `testing` and `campaigns`
    # are the public ones (subpackages with their own curated names).
    return names - {"testing", "campaigns"}


@pytest.mark.parametrize("package", PUBLIC_PACKAGES, ids=lambda p: p.__name__)
def test_public_names_are_exactly_the_curated_ones(package: ModuleType) -> None:
    assert public_names(package) == set(package.__all__) - {"__version__"}
    assert package.__all__ == sorted(package.__all__, key=isort_style)


def isort_style(name: str) -> tuple[int, str]:
    """Ruff's RUF022 order: SCREAMING_SNAKE_CASE, then CamelCase, then the rest."""
    if len(name) > 1 and name.isupper():
        return 0, name
    return (1 if name[:1].isupper() else 2), name


def exported_classes() -> dict[type, str]:
    return {
        value: f"{package.__name__}.{name}"
        for package in PUBLIC_PACKAGES
        for name in package.__all__
        if isinstance(value := getattr(package, name), type)
    }


# Names a public signature may use that exist only for the type checker (under TYPE_CHECKING).
TYPE_CHECKING_ONLY = {"Unpack"}


def test_every_class_a_public_method_returns_is_exported() -> None:
    """What a user gets back from the library, they can name in an annotation or isinstance."""
    exported = exported_classes()
    # A name imported only under TYPE_CHECKING is not in its module at run time.
    by_name = {path.rpartition(".")[2]: cls for cls, path in exported.items()}
    missing: set[str] = set()
    for cls in exported:
        module = vars(importlib.import_module(cls.__module__))
        for name, member in vars(cls).items():
            if name.startswith("_") and name not in ("__aenter__", "__aiter__", "__anext__"):
                continue
            function = member.fget if isinstance(member, property) else member
            function = getattr(function, "__func__", function)
            returns = getattr(function, "__annotations__", {}).get("return")
            if not isinstance(returns, str):
                continue
            for node in ast.walk(ast.parse(returns, mode="eval")):
                if not isinstance(node, ast.Name) or node.id in TYPE_CHECKING_ONLY:
                    continue
                value = module.get(node.id, vars(builtins).get(node.id, by_name.get(node.id)))
                if value is None and node.id != "None":
                    missing.add(f"{cls.__qualname__}.{name} -> {node.id} (unresolved)")
                elif (
                    isinstance(value, type)
                    and value.__module__.startswith("mysms_async.")
                    and value not in exported
                ):
                    missing.add(f"{cls.__qualname__}.{name} -> {value.__qualname__}")
    assert missing == set()


def test_the_stream_types_are_the_ones_the_client_returns() -> None:
    assert "SendStream" in mysms_async.__all__ and "ResultIterator" in mysms_async.__all__
    hints = typing.get_type_hints(mysms_async.MySMSClient.stream_send)
    assert hints["return"] is mysms_async.SendStream
    hints = typing.get_type_hints(mysms_async.MySMSClient.iter_send)
    assert hints["return"] is mysms_async.ResultIterator


@pytest.mark.parametrize(
    ("where", "attributes"),
    [
        ("mysms_async._operations.Operations", {"builder", "lifecycle", "chunk_size"}),
        ("mysms_async._operations.Chunk", {"messages"}),
        ("mysms_async._lifecycle.Lifecycle", {"state"}),
        ("mysms_async.campaigns._journal.Journal", {"url"}),
    ],
)
def test_attributes_reachable_from_public_signatures_are_annotated(
    where: str, attributes: set[str]
) -> None:
    module, _, name = where.rpartition(".")
    hints = typing.get_type_hints(getattr(importlib.import_module(module), name))
    assert attributes <= set(hints)


def test_no_public_name_shadows_one_of_the_standard_library() -> None:
    """``from mysms_async.testing import *`` next to ``from http import HTTPStatus`` must not
    silently replace one with the other."""
    import asyncio
    import dataclasses
    import datetime
    import decimal
    import enum
    import http
    import logging
    import warnings

    stdlib = {
        name
        for module in (asyncio, builtins, dataclasses, datetime, decimal, enum, http, logging)
        for name in getattr(module, "__all__", dir(module))
        if not name.startswith("_")
    } | set(dir(warnings)) - {"warnings"}
    shadowed = {
        f"{package.__name__}.{name}"
        for package in PUBLIC_PACKAGES
        for name in package.__all__
        if name in stdlib
    }
    assert shadowed == set()


def test_the_warning_lives_with_the_errors_and_stays_where_it_was() -> None:
    from mysms_async import _client, _exceptions

    assert mysms_async.InsecureURLWarning is _exceptions.InsecureURLWarning
    assert _client.InsecureURLWarning is _exceptions.InsecureURLWarning
    assert issubclass(mysms_async.InsecureURLWarning, UserWarning)


def test_request_state_is_what_a_gateway_error_holds() -> None:
    """``RequestState`` is exported because errors carry it: a member for a documented code,
    the plain int for one the document does not list (msgspec's trap: never a crash)."""
    assert GatewayError(-50).state is RequestState.INTERNAL_ERROR_50
    assert GatewayError(-52).state is RequestState.INTERNAL_ERROR_52
    unknown = GatewayError(-7).state
    assert type(unknown) is int and unknown == -7
    assert mysms_async.AuthError().state is RequestState.AUTH_FAILED
    assert str(GatewayError(-51)) == "gateway error: request state -51"
    assert f"{RequestState.INTERNAL_ERROR_51}" == str(RequestState.INTERNAL_ERROR_51) == "-51"


def test_every_error_derives_from_the_one_base() -> None:
    errors = [
        mysms_async.AuthError,
        mysms_async.BaseURLError,
        mysms_async.ClientClosedError,
        mysms_async.ConfigurationError,
        mysms_async.DeliveryUnknownError,
        mysms_async.InputError,
        mysms_async.WrongEventLoopError,
        mysms_async.GatewayError,
        mysms_async.MessageRejectedError,
        mysms_async.ResponseError,
        mysms_async.TransportError,
        mysms_async.ValidationError,
    ]
    for error in errors:
        assert issubclass(error, mysms_async.MySMSError)
    assert issubclass(mysms_async.ValidationError, ValueError)
    assert issubclass(mysms_async.DeliveryUnknownError, mysms_async.TransportError)


def test_every_error_carries_results_even_when_not_from_a_bulk_run() -> None:
    assert mysms_async.AuthError().results == []
    assert mysms_async.ValidationError("field", "rule").results == []
    assert mysms_async.ConfigurationError("x", variable="MYSMS_FORMAT").results == []


def import_graph() -> dict[str, set[str]]:
    """Every module of the package, subpackages included, and the package modules it imports.

    Every import counts, lazy ones and those under ``TYPE_CHECKING`` too: a circle that only the
    type checker or a late call walks is still two modules that each need the other. Importing
    ``a.b.c`` runs ``a.b``'s ``__init__`` as well, unless the importer lives inside ``a.b``.
    """
    root = Path(mysms_async.__file__).parent
    modules: dict[str, Path] = {}
    for path in root.rglob("*.py"):
        parts = ["mysms_async", *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path

    def ancestors(name: str) -> set[str]:
        parts = name.split(".")
        return {".".join(parts[:n]) for n in range(1, len(parts))}

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    origin = ".".join([*base, *(node.module or "").split(".")]).rstrip(".")
                else:
                    origin = node.module or ""
                # ``from pkg import mod`` imports the module; ``from pkg import name``, pkg itself.
                targets |= {
                    f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules else origin
                    for alias in node.names
                }
        edges = {t for t in targets if t in modules}
        for target in list(edges):
            edges |= ancestors(target) - ancestors(name) - {name}
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def test_the_private_modules_import_one_another_without_a_circle() -> None:
    """Data flows one way (STYLE.md), in the core and inside every subpackage (_cli, testing,
    campaigns): façades -> operations -> builder, transport, decoders."""
    graph = import_graph()
    assert {"mysms_async._cli._args", "mysms_async.testing._gateway"} <= set(graph)
    assert {"mysms_async.campaigns._store"} <= set(graph)

    def circle_from(start: str) -> tuple[str, ...] | None:
        stack = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for dependency in sorted(graph[node]):
                if dependency == start:
                    return (*trail, start)
                if dependency not in trail:
                    stack.append((dependency, [*trail, dependency]))
        return None

    def shown(circle: tuple[str, ...]) -> str:
        """One spelling per circle, whichever module it was found from: the least one first."""
        ring = circle[:-1]
        first = ring.index(min(ring))
        return " -> ".join([*ring[first:], *ring[:first], ring[first]])

    circles = {shown(c) for name in sorted(graph) if (c := circle_from(name)) is not None}
    assert circles == set()
    bulk = ("mysms_async._bulk_send", "mysms_async._bulk_status", "mysms_async._streams")
    for module in bulk:  # data flows one way: client -> bulk modules -> operations
        assert "mysms_async._client" not in graph[module]
        assert module not in graph["mysms_async._operations"]


def test_the_import_graph_sees_relative_absolute_lazy_and_type_checking_imports() -> None:
    """The guard above is only as good as the graph it walks."""
    graph = import_graph()
    # from .. import _constants as C; from .._config import ...; from ._campaign import ...
    assert {"mysms_async._constants", "mysms_async._config", "mysms_async._cli._campaign"} <= (
        graph["mysms_async._cli._args"]
    )
    # from .. import __version__ (the package's __init__)
    assert "mysms_async" in graph["mysms_async._cli._args"]
    # from . import _asgi, _wire
    assert {"mysms_async.testing._asgi", "mysms_async.testing._wire"} <= (
        graph["mysms_async.testing._gateway"]
    )
    # a lazy import inside a method, and one under TYPE_CHECKING
    assert "mysms_async._client" in graph["mysms_async.testing._gateway"]
    assert "mysms_async.testing._gateway" in graph["mysms_async.testing._plugin"]
    # from ..campaigns import ...: the subpackage's __init__
    assert "mysms_async.campaigns" in graph["mysms_async._cli._campaign"]


def loaded_by(*args: str) -> set[str]:
    """The package's modules a fresh interpreter imports to run ``python -X importtime ARGS``."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [line.rpartition("|")[2].strip() for line in run.stderr.splitlines()]
    assert "mysms_async._cli" in lines  # the probe sees the CLI's own imports
    return {line for line in lines if line.startswith("mysms_async")}


@pytest.mark.parametrize(
    "args",
    [
        ("-c", "import mysms_async._cli"),
        ("-m", "mysms_async", "--help"),
        ("-m", "mysms_async", "emulator", "--help"),  # shows the emulator's defaults
    ],
    ids=["import", "help", "emulator-help"],
)
def test_the_command_line_does_not_load_the_emulator_to_start(args: tuple[str, ...]) -> None:
    """The CLI's defaults for the emulator live in ``_constants``: building the parser must not
    import the emulator (its gateway, httpx's ASGI transport, the fault plan) for two numbers."""
    loaded = loaded_by(*args)
    assert "mysms_async.testing._gateway" not in loaded
    assert {name for name in loaded if name.startswith("mysms_async.testing")} == set()
