"""The pytest plugin: a user's own test needs no set-up beyond naming the fixtures.

Each test builds a fresh project with its own configuration (pytester) and runs it in a
subprocess, so that this repository's ``asyncio_mode = auto`` cannot make a fixture look usable
where a user's default configuration would reject it: pytest-asyncio's strict mode (its default),
its auto mode, and anyio's own plugin on both of its backends, with pytest-asyncio switched off.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

_APP = """
async def signup(phone, sms):
    await sms.send(phone, "Your code: 1234")
"""

_TESTS = """
{marker}
async def test_signup_sends_a_code(mysms_client, mysms_gateway):
    await signup("+7 911 222-33-33", mysms_client)
    (sent,) = mysms_gateway.messages.values()
    assert sent.destination == "79112223333"
    assert sent.text == "Your code: 1234"

{marker}
async def test_status_and_balance_work_too(mysms_client, mysms_gateway):
    result = await mysms_client.send("79112223333", "hi")
    mysms_gateway.advance(2)
    assert (await mysms_client.status(result.id)).state == 4
    assert (await mysms_client.balance()).amount == mysms_gateway.balance_of("demo")

{marker}
async def test_each_test_gets_a_fresh_gateway(mysms_gateway):
    assert mysms_gateway.messages == {{}}

{marker}
async def test_a_failing_expectation_fails(mysms_client, mysms_gateway):
    await mysms_client.send("79112223333", "hi")
    assert len(mysms_gateway.messages) == 2

{marker}
async def test_the_client_may_also_be_entered(mysms_client, mysms_gateway):
    async with mysms_client as sms:
        await sms.send("79112223333", "hi")
    assert mysms_client.is_closed
    assert len(mysms_gateway.messages) == 1
"""


def _project(
    pytester: pytest.Pytester, ini: str, marker: str, head: str = "import pytest\n"
) -> None:
    pytester.makeini(ini)
    pytester.makepyfile(test_app=head + _APP + _TESTS.format(marker=marker))


def test_pytest_asyncio_strict_mode_with_no_configuration(pytester: pytest.Pytester) -> None:
    _project(pytester, "[pytest]\n", "@pytest.mark.asyncio")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.no_fnmatch_line("*no plugin or hook that handled it*")


def test_pytest_asyncio_auto_mode(pytester: pytest.Pytester) -> None:
    _project(
        pytester,
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n",
        "",
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=1)


def test_anyio_plugin_on_asyncio_and_trio(pytester: pytest.Pytester) -> None:
    head = (
        "import pytest\n\n"
        "@pytest.fixture(params=['asyncio', 'trio'])\n"
        "def anyio_backend(request):\n"
        "    return request.param\n"
    )
    _project(pytester, "[pytest]\n", "@pytest.mark.anyio", head)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:asyncio", "-v")
    result.assert_outcomes(passed=8, failed=2)
    result.stdout.fnmatch_lines(["*test_signup_sends_a_code?trio? PASSED*"])
