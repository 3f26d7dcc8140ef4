"""The OpenAPI document for the JSON endpoints."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Liaison", "version": "1"},
    "paths": {},
}


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(DOCUMENT)
