"""``kinde-guard dev-issuer``: serve the dev authorization server on 127.0.0.1 until interrupted,
after a banner saying what it serves and the ``kinde-guard token`` command that signs in against it."""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import TextIO

from ..errors import ConfigurationError
from .config import DEFAULT_CALLBACK, DevIssuerConfig, load_config
from .keys import default_keys_dir, load_or_create_key
from .server import DevAuthorizationServer
from .tenant_api_keys import DEFAULT_MANAGEMENT_SECRET, default_api_keys_document

__all__ = ["DEFAULT_PORT", "run", "try_command"]

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
    server = DevAuthorizationServer(config, key=load_or_create_key(keys_dir))
    try:
        server.serve(port)
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror} (try --port).") from None
    stop = stop or threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        _banner(server, keys_dir, config_path, out)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        print("kinde-guard dev issuer stopped.", file=out, flush=True)


def _banner(server: DevAuthorizationServer, keys_dir: Path, config_path: str | Path | None, out: TextIO) -> None:
    config = server.config
    lines = [
        "kinde-guard dev issuer: FOR DEVELOPMENT AND TESTS ONLY. Never use it as a real identity provider.",
        f"  issuer     {server.url}   (listening on 127.0.0.1 only)",
        f"  discovery  {server.url}/.well-known/openid-configuration",
        f"  signing    kid {server.kid}  (key in {keys_dir})",
        f"  config     {config_path or 'built-in defaults'}",
    ]
    for api in config.apis.values():
        lines.append(f"  api        {api.audience}  scopes: {' '.join(api.scopes) or '-'}")
    for client in config.clients.values():
        where = {"m2m": "client_credentials", "device": "device flow (token --device)"}.get(
            client.type, " ".join(client.redirect_uris)
        )
        lines.append(f"  client     {client.client_id} ({client.type})  {where}")
    for user in config.users:
        lines.append(f"  user       {user.email}  {user.id}")
    lines += api_key_lines(config, server.url)
    lines.append(f"Try:  {shlex.join(try_command(config, server.url))}")
    print("\n".join(lines), file=out, flush=True)


def try_command(config: DevIssuerConfig, url: str) -> list[str]:
    """The ``kinde-guard token`` command line that signs in against this tenant for a token its API
    accepts: a public application, the first API it may ask for as ``--audience`` (without one the
    token's ``aud`` is empty, which every guarded API refuses), and its callback URL when it is not
    the token helper's default one.

    >>> from kinde_guard.devserver import load_config
    >>> try_command(load_config(), "http://127.0.0.1:53181")[4:]
    ['--client-id', 'kinde-guard-dev-client', '--audience', 'https://api.example.com']
    """
    command = ["kinde-guard", "token", "--domain", url]
    client = next((c for c in config.clients.values() if c.type == "public"), None)
    if client is None:  # no application the token helper can sign in as without a secret
        return [*command, "--client-id", "CLIENT_ID"]
    command += ["--client-id", client.client_id]
    if client.apis:
        command += ["--audience", client.apis[0]]
    if client.redirect_uris and DEFAULT_CALLBACK not in client.redirect_uris:
        command += ["--redirect-uri", client.redirect_uris[0]]
    return command


def api_key_lines(config: DevIssuerConfig, url: str) -> list[str]:
    """The banner's Management API application and API keys. Secrets and keys are shown whole only
    when they are the built-in tenant's published ones; a tenant file's are abbreviated (``k_live_ab…``).

    >>> from kinde_guard.devserver import load_config
    >>> print("\\n".join(api_key_lines(load_config(), "http://127.0.0.1:53181")))  # doctest: +NORMALIZE_WHITESPACE
      management kinde-guard-dev-management (m2m, Kinde Management API http://127.0.0.1:53181/api)  scopes: read:api_keys
      api key    k_live_dev_org_reader  api_key_dev_org_reader (active)  org org_dev  scopes: read:orders
      api key    k_live_dev_user_writer  api_key_dev_user_writer (active)  user kp_de700000000000000000000000000001
                 org org_dev  scopes: read:orders write:orders
      api key    k_live_dev_revoked  api_key_dev_revoked (revoked)  org org_dev  scopes: read:orders
    Guard:  KINDE_API_KEYS=true KINDE_M2M_CLIENT_ID=kinde-guard-dev-management
            KINDE_M2M_CLIENT_SECRET=dev-management-secret-not-for-production
    """
    management = config.api_keys.management
    published = {k["key"] for k in default_api_keys_document()["api_keys"]}
    scopes = " ".join(management.scopes) or "-"
    lines = [f"  management {management.client_id} (m2m, Kinde Management API {url}/api)  scopes: {scopes}"]
    for key in config.api_keys.keys:
        shown = key.key if key.key in published else key.key[: min(10, len(key.key) // 2)] + "…"
        owner = (f"user {key.user_id}  " if key.user_id else "") + (f"org {key.org_code}  " if key.org_code else "")
        lines.append(f"  api key    {shown}  {key.key_id} ({key.status})  {owner}scopes: {' '.join(key.scopes) or '-'}")
    secret = management.client_secret if management.client_secret == DEFAULT_MANAGEMENT_SECRET else "<its secret>"
    lines.append(
        f"Guard:  KINDE_API_KEYS=true KINDE_M2M_CLIENT_ID={shlex.quote(management.client_id)} "
        f"KINDE_M2M_CLIENT_SECRET={shlex.quote(secret)}"
    )
    return lines
