"""The account: ``MYSMS_USERNAME`` and ``MYSMS_PASSWORD`` from the environment, else a prompt.

A prompt only where stdin is a terminal, so a script without credentials fails at once with a
clear message instead of hanging; the password is read by :mod:`getpass`, never echoed.
"""

from __future__ import annotations

import getpass
import os
import sys

from .._config import ENV_PASSWORD, ENV_USERNAME
from ._output import UsageError


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def credentials() -> dict[str, str]:
    """The environment, with the username and password filled in by a prompt if need be."""
    env = dict(os.environ)
    username = env.get(ENV_USERNAME, "")
    password = env.get(ENV_PASSWORD, "")
    if username and password:
        return env
    if not _stdin_is_tty():
        missing = [
            name
            for name, value in ((ENV_USERNAME, username), (ENV_PASSWORD, password))
            if not value
        ]
        raise UsageError(
            f"no credentials, and stdin is not a terminal to ask on: export"
            f" {' '.join(f'{name}=...' for name in missing)} (your my-sms.ru login),"
            " or try --sandbox"
        )
    if not username:
        print("my-sms.ru username: ", end="", file=sys.stderr, flush=True)
        username = sys.stdin.readline().strip()
    if not password:
        password = getpass.getpass("my-sms.ru password: ")  # on the terminal, never echoed
    if not username or not password:
        raise UsageError("no username or password given")
    env[ENV_USERNAME] = username
    env[ENV_PASSWORD] = password
    return env
