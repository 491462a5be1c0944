"""Tests of DecisionEvent and DecisionCounters."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from scopeguard import DecisionCounters, DecisionEvent

EVENT = DecisionEvent(
    id="0" * 32,
    time=1_700_000_000.0,
    method="GET",
    path="/api/v1/courses/7",
    route="/api/v1/courses/:course_id",
    required_scope="url:GET|/api/v1/courses/:course_id",
    outcome="denied",
    status=403,
    reason="insufficient_scope",
    message="the token lacks the scope url:GET|/api/v1/courses/:course_id",
    error_class=None,
    subject="teacher-1",
    client_id=None,
    duration=0.00002,
)


def test_log_fields_do_not_clash_with_log_records() -> None:
    fields = EVENT.log_fields()
    reserved = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    assert set(fields) == {f"scopeguard_{name}" for name in DecisionEvent.__slots__}
    assert not set(fields) & reserved
    assert fields["scopeguard_status"] == 403
    # logging accepts the fields as extra without a KeyError for an overwritten attribute.
    record = logging.getLogger("scopeguard.test").makeRecord(
        "scopeguard.test", logging.INFO, __file__, 1, "x", (), None, extra=fields
    )
    assert record.scopeguard_reason == "insufficient_scope"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("adds", "snapshot", "totals"),
    [
        pytest.param([], {}, {None: 0, "allowed": 0}, id="empty"),
        pytest.param(
            [("/a", "allowed"), ("/a", "allowed"), (None, "denied"), ("/a", "would_deny")],
            {("/a", "allowed"): 2, (None, "denied"): 1, ("/a", "would_deny"): 1},
            {None: 4, "allowed": 2, "denied": 1, "would_deny": 1},
            id="mixed",
        ),
    ],
)
def test_counters(
    adds: list[tuple[str | None, str]],
    snapshot: dict[tuple[str | None, str], int],
    totals: dict[Any, int],
) -> None:
    counters = DecisionCounters()

    for route, outcome in adds:
        counters.add(route, outcome)

    assert dict(counters.snapshot()) == snapshot
    for outcome, total in totals.items():
        assert counters.total(outcome) == total


def test_snapshot_is_a_read_only_copy() -> None:
    counters = DecisionCounters()
    counters.add("/a", "allowed")

    snapshot = counters.snapshot()
    counters.add("/a", "allowed")

    assert snapshot[("/a", "allowed")] == 1
    with pytest.raises(TypeError):
        snapshot[("/a", "allowed")] = 5  # type: ignore[index]


def test_counters_from_threads() -> None:
    counters = DecisionCounters()

    def count() -> None:
        for _ in range(2000):
            counters.add("/a", "allowed")

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert counters.snapshot()[("/a", "allowed")] == 8000
