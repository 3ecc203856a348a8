"""Round robin over a route's HTTP upstreams, with a back-off for those that refuse.

::

    pick() --> a --> b --> c --> a ...        every upstream in rotation
                     |
    b refuses a connection: eject(b)
    pick() --> a --> c --> a ...              b out for 1 s
           ...1 s later: the next pick() probes b (one request; others skip it)
    probe connects:  restore(b)  --> a --> b --> c ...
    probe refused:   eject(b)    --> out for 2 s, then 4, 8, capped at 10

No IO here: the caller says what happened (:meth:`Rotation.eject` after a
failed connect, :meth:`Rotation.restore` after a good one), so the policy is a
plain unit test with a fake clock. Several failures from one burst (requests
that were connecting at the same moment) count once: the back-off doubles
only when a probe after it fails, and the "taken out" line is logged once per
back-off period.

A route with one upstream is never skipped (as nginx does with a one-server
group): every request tries it, since there is no other to send it to and a
refused connect on a LAN fails fast. It is still marked out and back in, for
the log line and the healthy-upstreams gauge.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["BACKOFF_MAX", "BACKOFF_MIN", "Rotation", "Target"]

logger = logging.getLogger("natsgate.gateway")

BACKOFF_MIN = 1.0
BACKOFF_MAX = 10.0


@dataclass(slots=True, eq=False)
class Target:
    """One upstream: its base URL and its place in the rotation."""

    base: str  # origin + base path, no trailing "/"
    root: bool  # no base path: an empty request path is sent as "/"
    backoff: float = 0.0  # 0.0 while in rotation, else the current back-off in seconds
    ejected_at: float = 0.0
    retry_at: float = 0.0  # when the next probe may go out

    @property
    def healthy(self) -> bool:
        return not self.backoff


class Rotation:
    """The upstreams of one route; ``pick()`` the next, ``eject()`` or ``restore()`` it."""

    def __init__(
        self,
        route: str,
        bases: Sequence[str],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not bases:
            raise ValueError("a rotation needs at least one upstream")
        self.route = route
        self.targets = [Target(base, _is_root(base)) for base in bases]
        self._clock = clock
        self._next = 0
        self._only = self.targets[0] if len(self.targets) == 1 else None

    def healthy_count(self) -> int:
        """How many upstreams are in rotation now."""
        return sum(1 for target in self.targets if target.healthy)

    def pick(self, exclude: Target | None = None) -> Target | None:
        """The next upstream to try, or None when every one (but ``exclude``) is out."""
        if self._only is not None:
            return self._only if exclude is None else None
        targets = self.targets
        now = 0.0
        for _ in range(len(targets)):
            target = targets[self._next]
            self._next = (self._next + 1) % len(targets)
            if target is exclude:
                continue
            if target.healthy:
                return target
            now = now or self._clock()
            if target.retry_at <= now:
                # This request probes it; the others keep skipping it meanwhile.
                target.retry_at = now + target.backoff
                return target
        return None

    def next_retry(self) -> float:
        """Seconds until the first ejected upstream may be probed again (0.0: now)."""
        now = self._clock()
        waits = [t.retry_at - now for t in self.targets if not t.healthy]
        return max(min(waits, default=0.0), 0.0)

    def eject(self, target: Target, reason: str) -> None:
        """``target`` refused a connection: take it out (again) for a back-off."""
        now = self._clock()
        if target.backoff and now - target.ejected_at < target.backoff:
            return  # another failure of the same burst
        first = target.healthy
        target.backoff = BACKOFF_MIN if first else min(target.backoff * 2, BACKOFF_MAX)
        target.ejected_at = now
        target.retry_at = now + target.backoff
        logger.warning(
            "route %s: upstream %s taken out of rotation for %.3gs (%d of %d healthy): %s",
            self.route,
            target.base,
            target.backoff,
            self.healthy_count(),
            len(self.targets),
            reason,
        )

    def restore(self, target: Target) -> None:
        """``target`` answered after being out: back in rotation, back-off reset."""
        if target.healthy:
            return
        target.backoff = 0.0
        logger.info(
            "route %s: upstream %s back in rotation (%d of %d healthy)",
            self.route,
            target.base,
            self.healthy_count(),
            len(self.targets),
        )


def _is_root(base: str) -> bool:
    """True when ``base`` is an origin alone (``http://h:1``), without a base path."""
    return "/" not in base.partition("://")[2]
