"""Issue 16 items 1 and 2: the engine is an injected strategy; a failure has one meaning.

The policy layer (``_transport.py``) and everything it imports name no HTTP library; each engine
owns its name, its checkpoint and one table from its library's exceptions to an ``Outcome``;
status codes and request states are classified into the same ``Outcome``, and -50..-52 ("not
executed") are not "may have arrived".
"""

from __future__ import annotations

import ast
import importlib
import pathlib

import pytest
from fault_cases import BACKENDS

import mysms_async
from mysms_async._exchange import ENGINES, ExchangeFailed, Fault, translate
from mysms_async._retry import Outcome
from mysms_async._transport import state_outcome, status_outcome

PACKAGE = pathlib.Path(mysms_async.__file__).parent
HTTP_LIBRARIES = frozenset({"httpx", "httpcore", "h11", "aiohttp", "yarl", "multidict"})


def _module_level_imports(module: str) -> set[str]:
    """Modules ``mysms_async.<module>`` imports outside functions (``TYPE_CHECKING`` included)."""
    path = PACKAGE / f"{module.removeprefix('mysms_async.').replace('.', '/')}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x / from ._y import z
                base = "mysms_async" + (f".{node.module}" if node.module else "")
                if node.module:
                    found.add(base)
                else:
                    found.update(f"{base}.{alias.name}" for alias in node.names)
            elif node.module:
                found.add(node.module)
        elif isinstance(node, (ast.If, ast.Try)):
            pending.extend(node.body)
            pending.extend(node.orelse)
            for handler in getattr(node, "handlers", []):
                pending.extend(handler.body)
    return found


def test_the_policy_layer_imports_no_http_library() -> None:
    """_transport and every package module it loads, at module level or for type checking."""
    seen: set[str] = set()
    pending = ["mysms_async._transport"]
    offenders: dict[str, set[str]] = {}
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        imports = _module_level_imports(module)
        http = {name for name in imports if name.split(".")[0] in HTTP_LIBRARIES}
        if http:
            offenders[module] = http
        pending.extend(
            name
            for name in imports
            if name.startswith("mysms_async.") and (PACKAGE / f"{name[12:]}.py").exists()
        )
    assert "mysms_async._exchange" in seen  # the closure really was walked
    assert not offenders


def test_the_engines_the_tests_run_on_are_the_registry() -> None:
    assert tuple(ENGINES) == BACKENDS


@pytest.mark.parametrize("name", list(ENGINES))
def test_each_engine_owns_its_name_checkpoint_and_one_fault_table(name: str) -> None:
    module = importlib.import_module(ENGINES[name])
    assert callable(module.open_exchange)  # what the one factory calls
    faults = module.FAULTS
    assert faults, "an engine without a fault table"
    for kind, fault in faults:
        assert isinstance(kind, type) and issubclass(kind, BaseException)
        assert isinstance(fault, Fault)
        assert isinstance(fault.outcome, Outcome)
    # Only "not sent" (a connect that never completed) or "may have arrived": an engine cannot
    # know what the gateway executed, so it never claims NOT_EXECUTED.
    outcomes = {fault.outcome for _, fault in faults}
    assert outcomes <= {Outcome.NOT_SENT, Outcome.MAYBE_SENT, Outcome.MAYBE_SENT_FINAL}
    assert Outcome.NOT_SENT in outcomes and Outcome.MAYBE_SENT in outcomes
    # No row is shadowed by an earlier, broader one (first match wins).
    for index, (kind, _) in enumerate(faults):
        for earlier, _ in faults[:index]:
            assert not issubclass(kind, earlier), f"{kind} is shadowed by {earlier}"
    names = {getattr(module, attr).name for attr in dir(module) if attr.endswith("Exchange")}
    assert names == {name}
    checkpoints = {
        getattr(module, attr).checkpoint for attr in dir(module) if attr.endswith("Exchange")
    }
    assert all(callable(checkpoint) for checkpoint in checkpoints)


def test_translate_keeps_the_type_and_redacts_never_chains() -> None:
    secret = "hunter2-secret"
    faults = ((ConnectionRefusedError, Fault(Outcome.NOT_SENT, "could not connect")),)
    failed = translate(ConnectionRefusedError(f"to http://x/?p={secret}"), faults, secret)
    assert isinstance(failed, ExchangeFailed)
    assert failed.outcome is Outcome.NOT_SENT
    assert failed.detail is not None and "ConnectionRefusedError" in failed.detail
    assert secret not in failed.detail
    assert translate(ValueError("not the library's"), faults, secret) is None


@pytest.mark.parametrize("state", [-50, -51, -52])
def test_not_executed_request_states_are_not_sent(state: int) -> None:
    """Documented "not executed": a send's messages are not sent (GatewayError, as the README's
    error tree says), never unknown; a send is not resent, status and balance are."""
    outcome = state_outcome(state)
    assert outcome is Outcome.NOT_EXECUTED
    assert not outcome.may_have_arrived
    assert not outcome.should_retry(idempotent=False)
    assert outcome.should_retry(idempotent=True)


@pytest.mark.parametrize("state", [1, -2, 99, -53])
def test_undocumented_request_states_may_have_arrived(state: int) -> None:
    outcome = state_outcome(state)
    assert outcome.may_have_arrived
    assert not outcome.should_retry(idempotent=True)


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (429, Outcome.NOT_SENT),
        (404, Outcome.NOT_SENT_FINAL),
        (405, Outcome.NOT_SENT_FINAL),
        (500, Outcome.MAYBE_SENT),
        (503, Outcome.MAYBE_SENT),
        (302, Outcome.MAYBE_SENT_FINAL),
        (400, Outcome.MAYBE_SENT_FINAL),
    ],
)
def test_status_codes_use_the_same_classification(code: int, outcome: Outcome) -> None:
    assert status_outcome(code) is outcome


def test_the_classification_is_complete() -> None:
    """Each outcome answers both questions, and only NOT_SENT lets a send go again."""
    for outcome in Outcome:
        assert isinstance(outcome.may_have_arrived, bool)
        assert outcome.should_retry(idempotent=False) is (outcome is Outcome.NOT_SENT)
        if outcome.should_retry(idempotent=False):
            assert outcome.should_retry(idempotent=True)
