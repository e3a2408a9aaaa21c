"""A secret's finalizer run by garbage collection while the secrets lock is held (inside
``live_secrets``, from a log filter) must not deadlock: seen as a hang of the fault tests."""

from __future__ import annotations

import gc
import threading

from mysms_async import _redact


def test_a_finalizer_run_under_the_secrets_lock_does_not_deadlock() -> None:
    done = threading.Event()

    def forget_under_the_lock() -> None:
        with _redact._LIVE_LOCK:  # what live_secrets() holds when gc runs a finalizer
            _redact._forget(-1)
        done.set()

    threading.Thread(target=forget_under_the_lock, daemon=True).start()
    assert done.wait(5), "_forget blocked on the lock its own thread holds"


def test_a_collected_owners_secret_is_forgotten() -> None:
    class Owner:
        pass

    owner = Owner()
    _redact.remember_secret(owner, "collected-secret-xyz")
    assert "collected-secret-xyz" in _redact.live_secrets()
    del owner
    gc.collect()
    assert "collected-secret-xyz" not in _redact.live_secrets()
