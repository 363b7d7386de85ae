"""Which calls that change the cloud are still running, so the provider process can end at once when none is.

Terraform waits for every provider process it stops to exit, several times per plan or apply. Skipping the
interpreter's teardown saves most of that wait, but the teardown is also what let a create, update or delete
that was still running (after Terraform asked the provider to stop) finish its last calls, such as tagging a
new bucket so that adoption can find it. `main` waits for those, and only those, before it exits.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_condition = threading.Condition()
_running = 0


def changes_the_cloud(method: F) -> F:
    """Mark a resource operation whose calls must not be cut short when the process ends."""

    @functools.wraps(method)
    def tracked(*args: Any, **kwargs: Any) -> Any:
        global _running
        with _condition:
            _running += 1
        try:
            return method(*args, **kwargs)
        finally:
            with _condition:
                _running -= 1
                _condition.notify_all()

    return tracked  # type: ignore[return-value]


def running() -> int:
    with _condition:
        return _running


def wait_until_idle(timeout: float | None = None) -> bool:
    """Block until no marked operation is running (True), or until `timeout` passes (False)."""
    with _condition:
        return _condition.wait_for(lambda: _running == 0, timeout=timeout)
