"""``python -m kinde_guard`` is the ``kinde-guard`` command."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
