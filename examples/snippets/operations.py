"""README snippet: the event hook (tests/test_readme.py runs it)."""

from __future__ import annotations

from collections import Counter

from kinde_guard import GuardConfig, KindeGuard

config = GuardConfig.from_env()
events: Counter[str] = Counter()  # or a Prometheus counter, an OpenTelemetry meter, ...
guard = KindeGuard(config, on_event=lambda name, data: events.update([name]))
