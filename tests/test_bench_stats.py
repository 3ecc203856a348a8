"""Trial ordering and the statistics over trials."""

from __future__ import annotations

import pytest

from natsgate.bench import stats
from natsgate.bench.scenarios import SCENARIOS


def test_rotated_order_puts_each_transport_first_once() -> None:
    plan = stats.interleaved_order(["http", "http-close", "nats"], 3, "rotate")
    assert plan == [
        ["http", "http-close", "nats"],
        ["http-close", "nats", "http"],
        ["nats", "http", "http-close"],
    ]


def test_shuffled_order_is_seeded_and_complete() -> None:
    first = stats.interleaved_order(["a", "b", "c"], 5, "shuffle")
    assert first == stats.interleaved_order(["a", "b", "c"], 5, "shuffle")
    assert all(sorted(r) == ["a", "b", "c"] for r in first)


def test_fixed_order_repeats() -> None:
    assert stats.interleaved_order(["a", "b"], 2, "fixed") == [["a", "b"], ["a", "b"]]


def test_bootstrap_ratio_brackets_the_point_estimate() -> None:
    point, low, high = stats.bootstrap_ratio(
        [20.0, 21.0, 19.0, 22.0, 20.5], [10.0, 10.5, 9.5, 10.2, 9.8]
    )
    assert point == pytest.approx(20.5 / 10.0)
    assert low <= point <= high
    assert low > 1.8 and high < 2.3


def test_bootstrap_of_identical_samples_has_no_spread() -> None:
    assert stats.bootstrap_ratio([5.0] * 4, [2.5] * 4) == (2.0, 2.0, 2.0)


def test_scaling_keeps_the_flow_and_divides_counts() -> None:
    scenario = SCENARIOS["seed-parallel"].scaled(0.01)
    assert scenario.iterations == 500
    assert scenario.concurrency == 500
    assert scenario.steps == SCENARIOS["seed-parallel"].steps
