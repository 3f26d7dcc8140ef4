"""`/health` (the process answers) and `/ready` (its dependencies answer) for probes and
load balancers; no login, no session lookup (probes send no cookie)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from liaison.protocol.answers import Liveness
from liaison.web.api import answer
from liaison.web.security import core_of

# An answer is about this moment: no proxy or client may keep it.
NOT_KEPT = {"Cache-Control": "no-store"}


async def health(request: Request) -> Response:
    """Liveness: the event loop answers. Nothing else is checked, so a database outage
    does not get a node restarted that would be as stuck after its restart."""
    return answer(Liveness(), headers=NOT_KEPT)


async def ready(request: Request) -> Response:
    """Readiness: every dependency, checked now; 503 while one is down (take this node
    out of the balancer's rotation until it answers again)."""
    report = await core_of(request).readiness()
    return answer(report, 200 if report.status == "ready" else 503, headers=NOT_KEPT)


routes = [Route("/health", health, methods=["GET"]), Route("/ready", ready, methods=["GET"])]
