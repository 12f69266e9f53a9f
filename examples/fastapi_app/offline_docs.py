"""Swagger UI and ReDoc served from this app, not from a CDN, so ``/docs`` works offline.

FastAPI's own ``/docs`` page loads Swagger UI's JavaScript and CSS from cdn.jsdelivr.net (and
its favicon from fastapi.tiangolo.com): with no internet it stays blank. This is FastAPI's
documented self-hosting recipe (*How To - Custom Docs UI Static Assets*) with the files shipped by
the ``fastapi-offline`` package. Its own ``FastAPIOffline()`` is not used because it drops
``swagger_ui_init_oauth``: the *Authorize* button would lose the client id and PKCE.

    app = FastAPI(docs_url=None, redoc_url=None, swagger_ui_init_oauth=...)
    serve_docs_offline(app)  # /docs, /docs/oauth2-redirect, /redoc and their files
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS_URL", "assets_directory", "serve_docs_offline"]

#: Where the Swagger UI and ReDoc files are mounted.
ASSETS_URL = "/docs-assets"
_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")


def assets_directory() -> Path:
    """The folder of Swagger UI's and ReDoc's files in the installed ``fastapi-offline``."""
    try:
        folder = Path(str(importlib.resources.files("fastapi_offline") / "static"))
    except ModuleNotFoundError:
        raise RuntimeError(
            "The docs pages need the fastapi-offline package (Swagger UI's files): pip install -e '.[fastapi,dev]'."
        ) from None
    missing = [name for name in _FILES if not (folder / name).is_file()]
    if missing:
        raise RuntimeError(f"fastapi-offline has no {', '.join(missing)} in {folder}: reinstall it.")
    return folder


def serve_docs_offline(app: FastAPI, *, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Add ``docs_url`` (Swagger UI, with ``app.swagger_ui_init_oauth`` and the OAuth2 redirect
    page at ``app.swagger_ui_oauth2_redirect_url``) and ``redoc_url``, both on local files.

    ``app`` must be built with ``docs_url=None, redoc_url=None`` so FastAPI adds no CDN pages.
    """
    if app.docs_url is not None or app.redoc_url is not None:
        raise ValueError("Build the app with FastAPI(docs_url=None, redoc_url=None): it has CDN docs pages.")
    app.mount(ASSETS_URL, StaticFiles(directory=assets_directory()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url

    # The same arguments as FastAPI's own /docs (fastapi.applications.FastAPI.setup), with the
    # asset URLs local; root_path keeps it working behind a proxy that mounts the app on a prefix.
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=root + redirect_url if redirect_url else None,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    async def oauth2_redirect(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()  # inline script, nothing to fetch

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    app.add_route(docs_url, swagger_ui, include_in_schema=False)
    if redirect_url:
        app.add_route(redirect_url, oauth2_redirect, include_in_schema=False)
    app.add_route(redoc_url, redoc, include_in_schema=False)
