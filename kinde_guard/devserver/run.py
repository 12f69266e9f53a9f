"""``kinde-guard dev-issuer``: serve the dev issuer on 127.0.0.1 until interrupted."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import TextIO

from ..errors import ConfigurationError
from .config import load_config
from .issuer import KindeDevIssuer
from .keys import default_keys_dir, load_or_create_key

__all__ = ["DEFAULT_PORT", "run"]

#: The dev issuer's default port, next to the token helper's default callback port 53180.
DEFAULT_PORT = 53181


def run(
    port: int = DEFAULT_PORT,
    config_path: str | Path | None = None,
    keys_dir: str | Path | None = None,
    *,
    out: TextIO = sys.stderr,
    stop: threading.Event | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (or ``stop`` is set). Binds 127.0.0.1 only, never another address."""
    config = load_config(config_path)
    keys_dir = Path(keys_dir) if keys_dir is not None else default_keys_dir()
    issuer = KindeDevIssuer(config, key=load_or_create_key(keys_dir))
    try:
        issuer.serve(port)
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror} (try --port).") from None
    stop = stop or threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        _banner(issuer, keys_dir, config_path, out)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        issuer.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        print("kinde-guard dev issuer stopped.", file=out, flush=True)


def _banner(issuer: KindeDevIssuer, keys_dir: Path, config_path: str | Path | None, out: TextIO) -> None:
    config = issuer.config
    lines = [
        "kinde-guard dev issuer: FOR DEVELOPMENT AND TESTS ONLY. Never use it as a real identity provider.",
        f"  issuer     {issuer.url}   (listening on 127.0.0.1 only)",
        f"  discovery  {issuer.url}/.well-known/openid-configuration",
        f"  signing    kid {issuer.kid}  (key in {keys_dir})",
        f"  config     {config_path or 'built-in defaults'}",
    ]
    for api in config.apis.values():
        lines.append(f"  api        {api.audience}  scopes: {' '.join(api.scopes) or '-'}")
    for client in config.clients.values():
        where = " ".join(client.redirect_uris) if client.type != "m2m" else "client_credentials"
        lines.append(f"  client     {client.client_id} ({client.type})  {where}")
    for user in config.users:
        lines.append(f"  user       {user.email}  {user.id}")
    public = next((c.client_id for c in config.clients.values() if c.type != "m2m"), "CLIENT_ID")
    lines.append(f"Try:  kinde-guard token --domain {issuer.url} --client-id {public}")
    print("\n".join(lines), file=out, flush=True)
