"""The one polling helper every suite waits with: ``tests.support.eventually``."""

from __future__ import annotations

import pytest

from tests.support import eventually


async def test_returns_the_first_truthy_value() -> None:
    """The condition is asked until it answers something truthy, and that answer is returned."""
    answers: list[object] = [None, 0, [], {"seq": 3}]
    replies = iter(answers)
    assert await eventually(lambda: next(replies), 1.0) == {"seq": 3}


async def test_awaits_a_coroutine_condition() -> None:
    """A coroutine function is awaited each time; its result decides."""
    calls: list[int] = []

    async def third_call() -> bool:
        calls.append(1)
        return len(calls) == 3

    assert await eventually(third_call, 1.0) is True
    assert len(calls) == 3


async def test_the_deadline_names_the_last_value_and_the_state() -> None:
    """At the deadline: AssertionError with the timeout, the last value, and state() (its repr)."""
    with pytest.raises(AssertionError) as failure:
        await eventually(lambda: 0, 0.05, state=lambda: {"connects": 1})
    assert str(failure.value) == (
        "condition not met within 0.05 s (last value 0); state: {'connects': 1}")


async def test_a_string_state_is_reported_as_it_is() -> None:
    """A state that is already text (a log tail) is not quoted or escaped."""
    with pytest.raises(AssertionError, match="state: waiting for a scrape\nlevel=warn") as failure:
        await eventually(lambda: False, 0.01, state=lambda: "waiting for a scrape\nlevel=warn")
    assert "'" not in str(failure.value)
