"""PublicPaths: the routes that need no token, matched the same way by every adapter.

An entry ending in ``/`` is a prefix (``"/static/"``); any other entry must equal the path
(``"/healthz"``). Paths are compared case-sensitively, as Starlette, Flask and Django route.

A path is public only in its plain form: the matching fails closed — the request needs a token —
for anything a router, a proxy or a second decoding pass could resolve elsewhere: dot segments
(``/static/../admin``), empty segments (``/static//../admin``, ``//healthz``), a ``%`` left after the
server's decoding (``/static/%2e%2e/admin`` sent double-encoded), backslashes, ``;`` path parameters
(``/static/..;/admin``) and control characters.

>>> public = PublicPaths(["/healthz", "/static/"])
>>> public.match("/healthz"), public.match("/healthz/x"), public.match("/static/app.css")
(True, False, True)
>>> public.match("/static/../admin"), public.match("/static//x"), public.match("/static/%2e%2e/x")
(False, False, False)
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["PublicPaths"]

# Characters that some router, proxy or decoder gives a meaning the plain path does not show.
_AMBIGUOUS = frozenset("%\\;") | frozenset(chr(c) for c in range(32)) | {"\x7f"}


class PublicPaths:
    """The public paths of one middleware; see the module docstring for the rules.

    Raises :class:`TypeError` for a lone string or a non-string entry and :class:`ValueError` for
    an entry that does not start with ``/`` or is itself not in plain form.
    """

    __slots__ = ("_exact", "_prefixes")

    def __init__(self, paths: Iterable[str]) -> None:
        if isinstance(paths, (str, bytes)):
            # A lone string would otherwise be taken character by character: "/" would open everything.
            raise TypeError("public_paths must be a list of paths such as ['/healthz', '/static/'], not a string")
        entries = tuple(paths)
        for path in entries:
            if not isinstance(path, str):
                raise TypeError(f"public_paths must hold strings, got {path!r}")
            if not path.startswith("/"):
                raise ValueError(f"public path {path!r} must start with '/', e.g. '/healthz'")
            if path != "/" and not _plain(path):
                raise ValueError(
                    f"public path {path!r} must be a plain path (no '.', '..' or empty segments, no %, \\ or ;)"
                )
        self._exact = frozenset(p for p in entries if not p.endswith("/"))
        self._prefixes = tuple(p for p in entries if p.endswith("/"))

    def __bool__(self) -> bool:
        return bool(self._exact or self._prefixes)

    def match(self, path: str) -> bool:
        """True when ``path`` (the app's own path, already percent-decoded by the server) needs no token."""
        if path in self._exact or (self._prefixes and path.startswith(self._prefixes)):
            return _plain(path)
        return False


def _plain(path: str) -> bool:
    if not _AMBIGUOUS.isdisjoint(path):
        return False
    segments = path.split("/")
    # segments[0] is "" (the leading slash); a trailing slash gives one empty last segment.
    inner = segments[1:-1] if path.endswith("/") else segments[1:]
    return all(segment and segment not in (".", "..") for segment in inner)
