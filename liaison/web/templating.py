"""Jinja2 pages in the viewer's language."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from liaison.config import ROOT
from liaison.web import i18n, labels
from liaison.web.security import (
    LANGUAGE_COOKIE,
    Viewer,
    attach_csrf_cookie,
    core_of,
    csrf_token,
    safe_next,
)

STATIC_DIR = ROOT / "static"
TEMPLATES_DIR = ROOT / "templates"


def _static_version() -> str:
    """A hash of the static files, so browsers fetch them anew after an upgrade."""
    digest = hashlib.sha256()
    for path in sorted(Path(STATIC_DIR).rglob("*")):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


env = Environment(
    loader=FileSystemLoader(str(TEMPLATES_DIR)),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
)
env.install_gettext_callables(i18n.gettext_, i18n.ngettext_, newstyle=True)  # type: ignore[attr-defined]
STATIC_VERSION = _static_version()


def _json_script(value: Any) -> Markup:
    """JSON safe inside a <script type="application/json"> element."""
    # Escaped by construction: "</" cannot end the script element.
    return Markup(json.dumps(value, ensure_ascii=False).replace("</", "<\\/"))  # noqa: S704


def language_of(request: Request, viewer: Viewer | None) -> str:
    if viewer is not None and viewer.language in i18n.LANGUAGES:
        return viewer.language
    cookie = request.cookies.get(LANGUAGE_COOKIE)
    if cookie in i18n.LANGUAGES:
        return cookie
    return core_of(request).settings.default_language


def render(
    request: Request, template: str, viewer: Viewer | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    lang = language_of(request, viewer)
    token = i18n.current_language.set(lang)
    try:
        html = env.get_template(template).render(
            request=request,
            # The page's own path, for the language form to return to.
            here=safe_next(request.url.path),
            viewer=viewer,
            lang=lang,
            languages=i18n.LANGUAGE_NAMES,
            csrf=csrf_token(request),
            static=lambda path: f"/static/{path}?v={STATIC_VERSION}",
            js_catalog=_json_script(i18n.js_catalog(lang)),
            labels=labels,
            labels_json=_json_script(labels.translated()),
            formats_json=_json_script(i18n.date_formats(lang, core_of(request).settings.time_zone)),
            **context,
        )
    finally:
        i18n.current_language.reset(token)
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    attach_csrf_cookie(response, request)
    return response
