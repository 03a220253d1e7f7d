"""Settings read once per batch: a job acting on 25 cases reads each playbook, template and store
setting once instead of once per case.

Inside `with memo_scope():` a `memoized(key, load)` call loads on the first use of `key` and returns the
same object after; outside a scope it loads every time. A scope lasts one batch (about a second), so a CX
manager's edit reaches the next batch, as it would a run that had started just before the edit.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_scope: ContextVar[dict[Hashable, object] | None] = ContextVar("memo_scope", default=None)


@contextmanager
def memo_scope() -> Iterator[None]:
    """Remember what `memoized` loads until the block ends (nested scopes share the outer one)."""
    if _scope.get() is not None:
        yield
        return
    token = _scope.set({})
    try:
        yield
    finally:
        _scope.reset(token)


def memoized(key: Hashable, load: Callable[[], T]) -> T:
    """`load()`, once per scope for `key` (every time outside a scope)."""
    memo = _scope.get()
    if memo is None:
        return load()
    if key not in memo:
        memo[key] = load()
    return memo[key]  # type: ignore[return-value]


def memo_forget() -> None:
    """Forget what the scope holds: after a rolled-back transaction, a row it loaded may not exist."""
    memo = _scope.get()
    if memo is not None:
        memo.clear()
