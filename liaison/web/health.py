"""`/health` (the process answers) and `/ready` (its dependencies answer) for probes and
load balancers; no login, no session lookup (probes send no cookie)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from liaison.web.security import core_of

# An answer is about this moment: no proxy or client may keep it.
NOT_KEPT = {"Cache-Control": "no-store"}


async def health(request: Request) -> JSONResponse:
    """Liveness: the event loop answers. Nothing else is checked, so a database outage
    does not get a node restarted that would be as stuck after its restart."""
    return JSONResponse({"status": "ok"}, headers=NOT_KEPT)


async def ready(request: Request) -> JSONResponse:
    """Readiness: every dependency, checked now; 503 while one is down (take this node
    out of the balancer's rotation until it answers again)."""
    is_ready, report = await core_of(request).readiness()
    return JSONResponse(report, status_code=200 if is_ready else 503, headers=NOT_KEPT)


routes = [Route("/health", health, methods=["GET"]), Route("/ready", ready, methods=["GET"])]
