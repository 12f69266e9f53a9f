"""The token helper's per-user cache: ``$XDG_CACHE_HOME/kinde-guard/`` (default ``~/.cache/kinde-guard/``).

The directory is 0700 and every file 0600; one JSON file per (domain, client, audience, scope,
organization) — the cache key, order-insensitive in audiences and scopes — named by a hash of
those. Nothing else is written under the home directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["TokenCache", "cache_key", "default_cache_dir"]


def default_cache_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "kinde-guard"


def cache_key(domain: str, client_id: str, audiences: Sequence[str], scope: str, org_code: str | None) -> str:
    """A file-name-safe key for one kind of token."""
    ident = json.dumps([domain, client_id, sorted(audiences), sorted(scope.split()), org_code or ""])
    return hashlib.sha256(ident.encode()).hexdigest()[:40]


class TokenCache:
    """Load, save and drop cached token entries (plain dicts). Failures to write are not fatal."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()

    def path(self, key: str) -> Path:
        return self.directory / f"token-{key}.json"

    def load(self, key: str) -> dict[str, Any] | None:
        try:
            doc = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def save(self, key: str, entry: dict[str, Any]) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        target = self.path(key)
        tmp = self.directory / f".{target.name}.{secrets.token_hex(4)}.tmp"
        # Created 0600 from the first byte (O_EXCL: never through a pre-placed file or symlink).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(entry, f)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def newest(self, match: Callable[[dict[str, Any]], bool]) -> tuple[str, dict[str, Any]] | None:
        """The most recently saved entry ``match`` accepts, with its key; None when there is none."""
        found: list[tuple[int, str, dict[str, Any]]] = []
        for path in self.directory.glob("token-*.json"):
            key = path.name[len("token-") : -len(".json")]
            entry = self.load(key)
            if entry is not None and match(entry):
                try:
                    found.append((path.stat().st_mtime_ns, key, entry))
                except OSError:  # removed meanwhile
                    continue
        if not found:
            return None
        _, key, entry = max(found, key=lambda item: item[0])
        return key, entry

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)
