"""The ``kinde-guard`` command (also ``python -m kinde_guard``): tokens for testing guarded APIs.

Modules: :mod:`.commands` (the argument parser; ``decode``, ``check``, ``dev-issuer``), :mod:`.tokens`
(``token``, ``refresh``, ``m2m`` and the token cache's use), :mod:`.token_helper` (the OAuth 2.0
client: discovery, Authorization Code + PKCE, refresh, client credentials), :mod:`.device` (the
device authorization flow of ``token --device``, RFC 8628), :mod:`.loopback` (the
one-shot callback listener), :mod:`.pkce`, :mod:`.token_cache`, :mod:`.check` (what ``decode``
and ``check`` print), :mod:`.options` (flags and ``KINDE_*`` variables, one rule for all) and
:mod:`.examples` (the examples of every ``--help``).
"""

from __future__ import annotations

from .commands import build_parser, main

__all__ = ["build_parser", "main"]
