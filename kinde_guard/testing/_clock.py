"""A clock for tests that moves only when told to."""

from __future__ import annotations

import time

__all__ = ["FrozenClock"]


class FrozenClock:
    """A clock for tests that moves only when told to: ``clock.advance(61)``.

    Pass it as ``clock=`` to :class:`~kinde_guard.testing.TestIssuer` and :class:`~kinde_guard.KindeGuard`.
    """

    def __init__(self, start: float | None = None) -> None:
        self.now = float(int(time.time())) if start is None else float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
