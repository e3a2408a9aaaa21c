import mysms_async


def test_public_names_are_exactly_the_curated_ones() -> None:
    # pytest rewrites plugin packages and leaves "@py_builtins" behind: not ours.
    exported = {n for n in dir(mysms_async) if not n.startswith(("_", "@"))}
    # Submodules imported for the package's own use show up too; `testing` and `campaigns`
    # are the public ones (subpackages with their own curated names).
    exported -= {"testing", "campaigns"}
    assert exported == set(mysms_async.__all__) - {"__version__"}
    assert mysms_async.__all__ == sorted(mysms_async.__all__, key=str)


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
