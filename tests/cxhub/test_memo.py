"""A batch reads each setting once: what memo_scope remembers, and for how long."""

from __future__ import annotations

from cxhub.memo import memo_forget, memo_scope, memoized


class Loader:
    """Returns how many times it has been called."""

    calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls


def test_outside_a_scope_every_call_loads():
    load = Loader()
    assert [memoized("key", load), memoized("key", load)] == [1, 2]


def test_inside_a_scope_a_key_loads_once_and_the_scope_ends_with_its_block():
    load = Loader()
    with memo_scope():
        assert [memoized("key", load), memoized("key", load)] == [1, 1]
        assert memoized("other", load) == 2
    assert memoized("key", load) == 3


def test_a_nested_scope_shares_the_outer_one():
    load = Loader()
    with memo_scope():
        memoized("key", load)
        with memo_scope():
            assert memoized("key", load) == 1
        assert memoized("key", load) == 1
    assert load.calls == 1


def test_forgetting_makes_the_next_call_load_again():
    load = Loader()
    with memo_scope():
        memoized("key", load)
        memo_forget()
        assert memoized("key", load) == 2
