"""How long a batch transaction waits before it is redone: briefly after a write conflict (the
other writer keeps committing, and this replica holds its prefetched messages meanwhile), up to
seconds while the database is unreachable."""

from __future__ import annotations

from pymongo.errors import ConnectionFailure, OperationFailure
from tenacity import RetryCallState, Retrying

from shared.consumer import retry_wait


def state(exc: BaseException, attempt: int) -> RetryCallState:
    rs = RetryCallState(Retrying(), None, (), {})
    rs.attempt_number = attempt
    rs.set_exception((type(exc), exc, None))
    return rs


def test_a_write_conflict_is_redone_within_a_quarter_second_however_often_it_lost() -> None:
    conflict = OperationFailure("WriteConflict", code=112)
    waits = [retry_wait(state(conflict, n)) for n in range(1, 30)]
    assert max(waits) <= 0.27
    assert waits[0] < waits[5]  # it still backs off a little


def test_an_unreachable_database_is_waited_for_with_growing_pauses() -> None:
    down = ConnectionFailure("connection refused")
    assert retry_wait(state(down, 1)) < 0.1
    assert 2.5 <= retry_wait(state(down, 10)) <= 5.05
