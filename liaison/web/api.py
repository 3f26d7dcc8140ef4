"""The JSON endpoints (what is not real time). Described in liaison/web/openapi.py."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from msgspec import UNSET
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import liaison.web.convertors  # noqa: F401 - registers {name:id}
from liaison.domain.errors import Refused
from liaison.domain.text import fits, is_row_id, storable
from liaison.domain.vocabulary import ErrorCode, Language
from liaison.protocol import conversations as chat_shapes
from liaison.protocol import http as http_bodies
from liaison.protocol import people as shapes
from liaison.protocol import rings as ring_shapes
from liaison.protocol.answers import ErrorBody, LanguageSaved, Stored
from liaison.protocol.common import dec_hook
from liaison.protocol.decode import field_reason
from liaison.web.auth import requires
from liaison.web.security import Viewer, client_address, core_of
from liaison.web.uploads import BodyTooLarge, capped_form, too_large_reason


def error(status: int, code: str, reason: str) -> Response:
    return answer(ErrorBody(error=ErrorCode(code), reason=reason), status)


# Protocol types that are str subclasses (Token) go out as their text.
_encoder = msgspec.json.Encoder(enc_hook=str)


def answer(
    content: msgspec.Struct, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A typed body (liaison/protocol/people.py, conversations.py, rings.py, load.py),
    encoded by msgspec: the same JSON as its OpenAPI schema, which is generated from the
    same class."""
    return Response(
        _encoder.encode(content), status_code, headers=headers, media_type="application/json"
    )


REFUSAL_STATUS = {
    "not_found": 404,
    "not_allowed": 403,
    "not_a_member": 403,
    "suppressed": 403,
    "exists": 409,
}


async def refusal(request: Request, exc: Exception) -> Response:
    """Every service's refusal, raised from any endpoint, as the JSON error body."""
    assert isinstance(exc, Refused)
    return error(REFUSAL_STATUS.get(exc.code, 400), exc.code, exc.reason)


B = TypeVar("B", bound=http_bodies.Body)


async def typed_body(request: Request, model: type[B]) -> B:
    """The body as its model; refused like a frame's field (bad_field, naming the field
    and the rule, never the value)."""
    body = await json_body(request)
    try:
        return msgspec.convert(body, model, dec_hook=dec_hook)
    except msgspec.ValidationError as e:
        raise Refused("bad_field", field_reason(str(e), model)) from None


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, RecursionError):
        raise HTTPException(400, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object")
    if not storable(body):
        raise Refused("bad_text", "text must be valid Unicode without NUL characters")
    if not fits(body):
        raise Refused("bad_field", "numbers must be 64-bit integers (-2^63 to 2^63-1)")
    return body


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10 and is_row_id(int(raw))):
        raise HTTPException(400, f"{name} must be a whole number from 0 to 2^31-1")
    return int(raw)


async def audit_lookup(request: Request, viewer: Viewer, kind: str, detail: str) -> None:
    """Who looked up a client by identity code, and when (docs/accounts.md "Audit log")."""
    await core_of(request).audit.record(
        kind,
        account_id=viewer.account_id,
        username=viewer.username,
        address=client_address(request),
        detail=detail,
    )


# ---------------------------------------------------------------- directory


@requires("member")
async def me(request: Request, viewer: Viewer) -> Response:
    person = await core_of(request).directory.card(viewer.person_id)
    assert person is not None
    language = None if viewer.language is None else Language(viewer.language)
    return answer(
        shapes.Me(
            username=viewer.username, is_admin=viewer.is_admin, language=language, person=person
        )
    )


@requires("member")
async def people(request: Request, viewer: Viewer) -> Response:
    q = request.query_params
    found = await core_of(request).directory.search(
        text=q.get("q", ""),
        benefit=q.get("benefit", ""),
        organisation_id=_int_param(request, "organisation"),
        area=q.get("area", ""),
        tag=q.get("tag", ""),
        role=q.get("role", ""),
        limit=_int_param(request, "limit") or 200,
    )
    if found.identity_codes:
        # A search by identity code is a lookup of a client: audited, as its kind only.
        await audit_lookup(request, viewer, "people_search", "")
    return answer(shapes.People(people=found.people))


@requires("member")
async def person(request: Request, viewer: Viewer) -> Response:
    found = await core_of(request).directory.card(int(request.path_params["person_id"]))
    if found is None:
        return error(404, "not_found", "no such person")
    return answer(found)


@requires("member")
async def organisations(request: Request, viewer: Viewer) -> Response:
    directory = core_of(request).directory
    return answer(
        shapes.Organisations(
            organisations=await directory.organisations(), areas=await directory.areas()
        )
    )


@requires("member")
async def photo(request: Request, viewer: Viewer) -> Response:
    found = await core_of(request).profile.photo(int(request.path_params["person_id"]))
    if found is None:
        return error(404, "not_found", "no photo")
    return Response(
        found.data,
        media_type=found.content_type,
        headers={"Cache-Control": "private, max-age=86400"},
    )


@requires("member")
async def upload_photo(request: Request, viewer: Viewer) -> Response:
    try:
        form = await capped_form(request, core_of(request).settings.max_photo_bytes)
    except BodyTooLarge as e:
        return error(413, "too_large", too_large_reason(e.limit))
    upload = form.get("photo")
    if upload is None or isinstance(upload, str):
        return error(400, "bad_field", "send the image as a multipart field named photo")
    await core_of(request).profile.set_photo(viewer.person_id, await upload.read())
    return answer(Stored())


@requires("member")
async def update_profile(request: Request, viewer: Viewer) -> Response:
    body = await typed_body(request, http_bodies.ProfileChanges)
    return answer(await core_of(request).profile.update(viewer.person_id, body))


@requires("member")
async def update_presence(request: Request, viewer: Viewer) -> Response:
    body = await typed_body(request, http_bodies.PresenceChanges)
    command = http_bodies.presence_command(body)
    return answer(await core_of(request).presence.update(viewer.person_id, command))


@requires("member")
async def set_language(request: Request, viewer: Viewer) -> Response:
    body = await typed_body(request, http_bodies.LanguageChoice)
    await core_of(request).accounts.set_language(viewer.account_id, body.language)
    return answer(LanguageSaved(language=body.language))


# ---------------------------------------------------------------- conversations


@requires("member")
async def conversations(request: Request, viewer: Viewer) -> Response:
    summaries = await core_of(request).chat.summaries(viewer.person_id)
    return answer(chat_shapes.Conversations(conversations=summaries))


@requires("member")
async def create_conversation(request: Request, viewer: Viewer) -> Response:
    body = await typed_body(request, http_bodies.NewConversation)
    chat = core_of(request).chat
    if body.person_id is not UNSET:
        summary = await chat.open_direct(viewer.person_id, body.person_id)
    elif body.title is UNSET or body.members is UNSET:
        return error(400, "bad_field", "a group needs a title and members")
    else:
        summary = await chat.create_group(viewer.person_id, body.title, body.members)
    return answer(summary, status_code=201)


@requires("member")
async def conversation_messages(request: Request, viewer: Viewer) -> Response:
    core = core_of(request)
    limit = _int_param(request, "limit") or core.settings.history_page_size
    messages = await core.chat.history(
        viewer.person_id,
        int(request.path_params["conversation_id"]),
        _int_param(request, "before"),
        max(1, limit),
    )
    return answer(chat_shapes.Messages(messages=messages))


@requires("member")
async def update_conversation(request: Request, viewer: Viewer) -> Response:
    body = await typed_body(request, http_bodies.Rename)
    summary = await core_of(request).chat.rename(
        viewer.person_id,
        viewer.is_admin,
        int(request.path_params["conversation_id"]),
        body.title,
    )
    return answer(summary)


@requires("member")
async def add_member(request: Request, viewer: Viewer) -> Response:
    body = await typed_body(request, http_bodies.NewMember)
    summary = await core_of(request).chat.add_member(
        viewer.person_id,
        viewer.is_admin,
        int(request.path_params["conversation_id"]),
        body.person_id,
    )
    return answer(summary)


@requires("member")
async def remove_member(request: Request, viewer: Viewer) -> Response:
    await core_of(request).chat.remove_member(
        viewer.person_id,
        viewer.is_admin,
        int(request.path_params["conversation_id"]),
        int(request.path_params["person_id"]),
    )
    return Response(status_code=204)


# ---------------------------------------------------------------- rings and consultations


@requires("member")
async def rings(request: Request, viewer: Viewer) -> Response:
    return answer(ring_shapes.RingList(rings=core_of(request).rings.rings_for(viewer.person_id)))


@requires("member")
async def consultations(request: Request, viewer: Viewer) -> Response:
    limit = max(1, min(_int_param(request, "limit") or 100, 1000))
    found = await core_of(request).consultations.consultations_of(viewer.person_id, limit)
    return answer(ring_shapes.ConsultationList(consultations=found))


@requires("member")
async def consultation_conversations(request: Request, viewer: Viewer) -> Response:
    found = await core_of(request).consultations.consultation_conversations(viewer.person_id)
    return answer(ring_shapes.ConsultationConversations(conversations=found))


@requires("member")
async def missed_offers(request: Request, viewer: Viewer) -> Response:
    missed = await core_of(request).consultations.missed_for(viewer.person_id)
    return answer(ring_shapes.MissedOffers(missed=missed))


@requires("member")
async def lookup_consultations(request: Request, viewer: Viewer) -> Response:
    """Earlier consultations about a client. The code comes in the body, never the URL,
    so it cannot end up in access logs; only its pseudonym is compared."""
    body = await typed_body(request, http_bodies.ClientLookup)
    core = core_of(request)
    client_ref = core.rings.client_reference(body.client_code)
    if client_ref is None:
        return error(400, "bad_field", "client_code is required")
    found = await core.consultations.consultations_about(client_ref)
    await audit_lookup(request, viewer, "client_lookup", f"{client_ref} ({len(found)} found)")
    return answer(ring_shapes.ClientLookupResult(client_ref=client_ref, consultations=found))


@requires("member")
async def export_consultations(request: Request, viewer: Viewer) -> Response:
    text = await core_of(request).consultations.export_csv(viewer.person_id, viewer.is_admin)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="consultations.csv"'},
    )


@requires("member")
async def callbacks(request: Request, viewer: Viewer) -> Response:
    callbacks = await core_of(request).callbacks.callbacks_for(viewer.person_id)
    return answer(ring_shapes.CallbackList(callbacks=callbacks))


# ---------------------------------------------------------------- load view


def _period(request: Request, default_days: int) -> tuple[int, str]:
    """`days` and `by` of a load request; absent means the default, not zero."""
    days = _int_param(request, "days")
    return default_days if days is None else days, request.query_params.get("by") or "day"


@requires("member")
async def load(request: Request, viewer: Viewer) -> Response:
    return answer(await core_of(request).load.snapshot(viewer.person_id, viewer.is_admin))


@requires("member")
async def load_history(request: Request, viewer: Viewer) -> Response:
    days, by = _period(request, 7)
    data = await core_of(request).load.history(
        viewer.person_id, viewer.is_admin, request.path_params["ring_id"], days, by
    )
    return answer(data)


@requires("member")
async def load_history_csv(request: Request, viewer: Viewer) -> Response:
    days, by = _period(request, 7)
    ring_id = request.path_params["ring_id"]
    text = await core_of(request).load.history_csv(
        viewer.person_id, viewer.is_admin, ring_id, days, by
    )
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in ring_id)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="load-{name}-{days}d-{by}.csv"'},
    )


@requires("member")
async def load_people(request: Request, viewer: Viewer) -> Response:
    days, _ = _period(request, 1)
    data = await core_of(request).load.people(
        viewer.person_id, viewer.is_admin, request.path_params["ring_id"], days
    )
    return answer(data)


@requires("member")
async def load_mine(request: Request, viewer: Viewer) -> Response:
    data = await core_of(request).load.mine(viewer.person_id, _period(request, 1)[0])
    return answer(data)


# ---------------------------------------------------------------- administration


@requires("admin")
async def accounts(request: Request, viewer: Viewer) -> Response:
    return answer(shapes.Accounts(accounts=await core_of(request).admin.accounts()))


@requires("admin")
async def create_account(request: Request, viewer: Viewer) -> Response:
    body = await typed_body(request, http_bodies.NewAccount)
    account = await core_of(request).accounts.create_account(
        body.username, body.password, body.person_id, body.is_admin
    )
    created = shapes.NewAccountCreated(id=account.id, username=account.username)
    return answer(created, status_code=201)


@requires("admin")
async def update_account(request: Request, viewer: Viewer) -> Response:
    body = await typed_body(request, http_bodies.AccountChange)
    await core_of(request).accounts.set_disabled(
        int(request.path_params["account_id"]), body.disabled
    )
    return answer(shapes.AccountDisabled(disabled=body.disabled))


@requires("admin")
async def login_locks(request: Request, viewer: Viewer) -> Response:
    return answer(shapes.LoginLocks(locks=await core_of(request).logins.locks()))


@requires("admin")
async def unlock_login(request: Request, viewer: Viewer) -> Response:
    await core_of(request).logins.unlock(
        int(request.path_params["lock_id"]), viewer.account_id, viewer.username
    )
    return Response(status_code=204)


@requires("admin")
async def audit_log(request: Request, viewer: Viewer) -> Response:
    page = await core_of(request).audit.page(
        _int_param(request, "before"), _int_param(request, "limit") or 50
    )
    return answer(page)


@requires("admin")
async def configure_rings(request: Request, viewer: Viewer) -> Response:
    """The `liaison rings` document over HTTP: applied all or nothing, and in force at once
    (members added are offered questions, members removed stop being, supervisors follow)."""
    body = await typed_body(request, http_bodies.RingsDocument)
    return answer(await core_of(request).admin.configure_rings(body))


@requires("admin")
async def import_people(request: Request, viewer: Viewer) -> Response:
    try:
        form = await capped_form(request, core_of(request).settings.max_import_bytes)
    except BodyTooLarge as e:
        return error(413, "too_large", too_large_reason(e.limit))
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return error(400, "bad_field", "send the CSV or XLSX file as a multipart field named file")
    dry_run = str(form.get("dry_run", "")).lower() in ("1", "true", "on", "yes")
    sheet = str(form.get("sheet", "")).strip()[:200] or None
    data = await upload.read()
    report = await core_of(request).admin.import_directory(
        upload.filename or "", data, dry_run, sheet
    )
    return answer(report, status_code=200 if not report.errors else 422)


routes = [
    Route("/api/me", me),
    Route("/api/me/profile", update_profile, methods=["PATCH"]),
    Route("/api/me/presence", update_presence, methods=["PATCH"]),
    Route("/api/me/photo", upload_photo, methods=["POST"]),
    Route("/api/me/language", set_language, methods=["PUT"]),
    Route("/api/people", people),
    Route("/api/people/{person_id:id}", person),
    Route("/api/organisations", organisations),
    Route("/people/{person_id:id}/photo", photo),
    Route("/api/conversations", conversations),
    Route("/api/conversations", create_conversation, methods=["POST"]),
    Route("/api/conversations/{conversation_id:id}", update_conversation, methods=["PATCH"]),
    Route("/api/conversations/{conversation_id:id}/messages", conversation_messages),
    Route("/api/conversations/{conversation_id:id}/members", add_member, methods=["POST"]),
    Route(
        "/api/conversations/{conversation_id:id}/members/{person_id:id}",
        remove_member,
        methods=["DELETE"],
    ),
    Route("/api/rings", rings),
    Route("/api/rings/missed", missed_offers),
    Route("/api/consultations", consultations),
    Route("/api/consultations/conversations", consultation_conversations),
    Route("/api/consultations/lookup", lookup_consultations, methods=["POST"]),
    Route("/api/consultations/export.csv", export_consultations),
    Route("/api/callbacks", callbacks),
    Route("/api/load", load),
    Route("/api/load/me", load_mine),
    Route("/api/load/rings/{ring_id:path}/history", load_history),
    Route("/api/load/rings/{ring_id:path}/history.csv", load_history_csv),
    Route("/api/load/rings/{ring_id:path}/people", load_people),
    Route("/api/admin/accounts", accounts),
    Route("/api/admin/accounts", create_account, methods=["POST"]),
    Route("/api/admin/accounts/{account_id:id}", update_account, methods=["PATCH"]),
    Route("/api/admin/import", import_people, methods=["POST"]),
    Route("/api/admin/locks", login_locks),
    Route("/api/admin/locks/{lock_id:id}", unlock_login, methods=["DELETE"]),
    Route("/api/admin/audit", audit_log),
    Route("/api/admin/rings", configure_rings, methods=["PUT"]),
]
