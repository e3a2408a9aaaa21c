import mysms_async


def test_public_names_are_exactly_the_curated_ones() -> None:
    # pytest rewrites plugin packages and leaves "@py_builtins" behind: not ours.
    exported = {n for n in dir(mysms_async) if not n.startswith(("_", "@"))}
    # Submodules imported for the package's own use show up too; only `testing` is public.
    exported -= {"testing"}
    assert exported == set(mysms_async.__all__) - {"__version__"}
    assert mysms_async.__all__ == sorted(mysms_async.__all__, key=str)


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
