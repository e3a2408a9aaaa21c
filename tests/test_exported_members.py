import ast
import builtins
import importlib
import typing
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
        ("mysms_async._operations.Lifecycle", {"state"}),
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


def test_the_private_modules_import_one_another_without_a_circle() -> None:
    """Data flows one way (STYLE.md): façades -> operations -> builder, transport, decoders."""
    import ast
    from pathlib import Path

    package = Path(mysms_async.__file__).parent
    modules = {path.stem: path for path in package.glob("_*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {
            node.module.split(".")[0]
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
        } & set(modules)

    def circle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for dependency in graph[node]:
                if dependency == start:
                    return [*trail, start]
                if dependency not in trail:
                    stack.append((dependency, [*trail, dependency]))
        return None

    circles = [c for name in graph if (c := circle_from(name)) is not None]
    assert circles == []
    assert "_client" not in graph["_bulk"] and "_bulk" not in graph["_operations"]
