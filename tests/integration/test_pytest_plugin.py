"""The pytest plugin: a user's own test needs no set-up beyond naming the fixtures."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_fixtures_are_available_to_a_users_test_suite(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(
        """
        async def signup(phone, sms):
            await sms.send(phone, "Your code: 1234")

        async def test_signup_sends_a_code(mysms_client, mysms_gateway):
            await signup("+7 911 222-33-33", mysms_client)
            (sent,) = mysms_gateway.messages.values()
            assert sent.destination == "79112223333"
            assert sent.text == "Your code: 1234"

        async def test_each_test_gets_a_fresh_gateway(mysms_gateway):
            assert mysms_gateway.messages == {}

        async def test_a_failing_expectation_fails(mysms_client, mysms_gateway):
            await mysms_client.send("79112223333", "hi")
            assert len(mysms_gateway.messages) == 2
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
