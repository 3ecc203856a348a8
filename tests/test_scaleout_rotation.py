"""The round robin and back-off policy of several HTTP upstreams, on a fake clock."""

from __future__ import annotations

import logging

import pytest

from natsgate.gateway.balancer import BACKOFF_MAX, Rotation


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _rotation(*bases: str) -> tuple[Rotation, Clock]:
    clock = Clock()
    return Rotation("/h", bases, clock=clock), clock


def _bases(rotation: Rotation, count: int) -> list[str]:
    picked = []
    for _ in range(count):
        target = rotation.pick()
        picked.append(target.base if target else "-")
    return picked


def test_round_robin_in_file_order() -> None:
    rotation, _ = _rotation("http://a", "http://b", "http://c")

    assert _bases(rotation, 6) == ["http://a", "http://b", "http://c"] * 2
    assert rotation.healthy_count() == 3


def test_ejected_upstream_is_skipped_then_probed_once_after_its_backoff() -> None:
    rotation, clock = _rotation("http://a", "http://b")
    a = rotation.targets[0]
    rotation.eject(a, "refused")

    assert rotation.healthy_count() == 1
    assert _bases(rotation, 4) == ["http://b"] * 4
    clock.now += 1.0
    # One request probes a; until it answers the others keep going to b.
    assert sorted(_bases(rotation, 4)) == ["http://a", "http://b", "http://b", "http://b"]
    rotation.restore(a)
    assert _bases(rotation, 2) == ["http://a", "http://b"]
    assert rotation.healthy_count() == 2


def test_backoff_doubles_on_each_failed_probe_up_to_the_cap() -> None:
    rotation, clock = _rotation("http://a", "http://b")
    a = rotation.targets[0]
    seen = []
    for _ in range(7):
        rotation.eject(a, "refused")
        seen.append(a.backoff)
        clock.now += a.backoff
    assert seen == [1.0, 2.0, 4.0, 8.0, BACKOFF_MAX, BACKOFF_MAX, BACKOFF_MAX]
    rotation.restore(a)
    rotation.eject(a, "refused")
    assert a.backoff == 1.0


def test_a_burst_of_failures_counts_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    rotation, clock = _rotation("http://a", "http://b")
    a = rotation.targets[0]
    with caplog.at_level(logging.INFO, logger="natsgate.gateway"):
        for _ in range(20):
            rotation.eject(a, "refused")
            clock.now += 0.01
        rotation.restore(a)

    assert a.healthy
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "http://a taken out of rotation for 1s (1 of 2 healthy): refused" in lines[0]
    assert "http://a back in rotation (2 of 2 healthy)" in lines[1]


def test_every_upstream_out_picks_none_and_says_when_to_retry() -> None:
    rotation, clock = _rotation("http://a", "http://b")
    for target in rotation.targets:
        rotation.eject(target, "refused")
    clock.now += 0.25

    assert rotation.pick() is None
    assert rotation.next_retry() == pytest.approx(0.75)
    assert rotation.pick(exclude=rotation.targets[0]) is None


def test_one_upstream_is_never_skipped() -> None:
    rotation, _ = _rotation("http://a/api")
    only = rotation.targets[0]
    rotation.eject(only, "refused")

    assert rotation.pick() is only
    assert rotation.pick(exclude=only) is None
    assert rotation.healthy_count() == 0
    assert not only.root
