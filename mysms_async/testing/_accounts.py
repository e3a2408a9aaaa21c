"""The emulator's accounts and billing: who may log in, with which senders, and what they have left.

A message costs its parts (:func:`mysms_async.segments`) times the gateway's price per part, and
is refused (-13) when the balance does not cover it: the balance never goes below zero. Nothing
here is thread-safe; :class:`FakeGateway` holds its lock around every call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from ._records import Account

__all__ = ["SENDER", "AccountBook", "AccountState"]

SENDER: Final = re.compile(r"(?! )(?=[0-9 ._\-]*[A-Za-z])[A-Za-z0-9 ._\-]{1,11}(?<! )|[0-9]{1,15}")
"""A well-formed sender name: at most 11 Latin letters, digits, inner spaces and ``.-_`` with at
least one letter, or at most 15 digits."""


@dataclass(slots=True)
class AccountState:
    config: Account
    balance: Decimal


class AccountBook:
    """The accounts by username, each with its balance now."""

    def __init__(self) -> None:
        self._accounts: dict[str, AccountState] = {}

    def add(self, account: Account) -> None:
        for sender in account.senders:
            if not SENDER.fullmatch(sender):
                raise ValueError(
                    f"sender {sender!r} is malformed: at most 11 Latin letters, digits, inner"
                    " spaces and '.-_' with at least one letter, or at most 15 digits"
                )
        if account.balance < 0:
            raise ValueError("balance must not be negative")
        if account.username in self._accounts:
            raise ValueError(f"account {account.username!r} already exists")
        self._accounts[account.username] = AccountState(account, account.balance)

    def configs(self) -> tuple[Account, ...]:
        return tuple(state.config for state in self._accounts.values())

    def first(self) -> Account | None:
        return next((state.config for state in self._accounts.values()), None)

    def get(self, username: str) -> AccountState:
        try:
            return self._accounts[username]
        except KeyError:
            raise KeyError(f"no account {username!r}") from None

    def log_in(self, username: str, password: str) -> AccountState | None:
        """The account these credentials open, or ``None`` (request state -1)."""
        account = self._accounts.get(username)
        if account is None or account.config.password != password:
            return None
        return account

    def set_balance(self, username: str, amount: Decimal) -> None:
        if amount < 0:
            raise ValueError("balance must not be negative")
        self.get(username).balance = amount

    @staticmethod
    def charge(account: AccountState, price: Decimal) -> bool:
        """Take ``price`` from the balance if it covers it; whether it did."""
        if price > account.balance:
            return False
        account.balance -= price
        return True

    def restart(self) -> None:
        """Give every account its starting balance again."""
        for state in self._accounts.values():
            state.balance = state.config.balance
