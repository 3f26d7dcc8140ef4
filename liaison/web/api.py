"""The JSON endpoints (what is not real time). Described in liaison/web/openapi.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import liaison.web.convertors  # noqa: F401 - registers {name:id}
from liaison.domain import identity
from liaison.domain.directory import PHONE_RULE, is_phone_number
from liaison.domain.errors import Refused
from liaison.domain.text import fits, is_row_id, storable
from liaison.services.directory_import import ReadLimits, import_directory
from liaison.services.ring_config import RingConfigError, apply_ring_config
from liaison.store import repositories as repo
from liaison.web.security import Viewer, check_csrf, client_address, core_of, viewer_of
from liaison.web.uploads import BodyTooLarge, capped_form, too_large_reason

PHOTO_TYPES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"RIFF": "image/webp",
}


def error(status: int, code: str, reason: str) -> JSONResponse:
    return JSONResponse({"error": code, "reason": reason}, status_code=status)


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


async def require_viewer(request: Request) -> Viewer:
    viewer = await viewer_of(request)
    if viewer is None:
        raise HTTPException(401, "log in first")
    if request.method not in ("GET", "HEAD"):
        check_csrf(request, None)
    return viewer


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


def with_presence(request: Request, person: dict[str, Any]) -> dict[str, Any]:
    return {**person, "presence": core_of(request).presence.view(person["id"])}


# ---------------------------------------------------------------- directory


async def me(request: Request) -> Response:
    viewer = await require_viewer(request)
    async with core_of(request).db() as db:
        person = await repo.get_person(db, viewer.person_id)
    assert person is not None
    return JSONResponse(
        {
            "username": viewer.username,
            "is_admin": viewer.is_admin,
            "language": viewer.language,
            "person": with_presence(request, person),
        }
    )


async def people(request: Request) -> Response:
    viewer = await require_viewer(request)
    q = request.query_params
    core = core_of(request)
    codes = 0

    def scrubbed(name: str) -> str:
        # A code searched for is searched as its reference, as profiles store it.
        nonlocal codes
        text, found = identity.redact_identity_codes(q.get(name, ""), core.settings.secret_key)
        codes += found
        return text

    text, tag = scrubbed("q")[:200], scrubbed("tag")
    if codes:
        # A search by identity code is a lookup of a client: audited, as its kind only.
        await audit_lookup(request, viewer, "people_search", "")
    async with core.db() as db:
        found = await repo.search_people(
            db,
            text=text,
            benefit=q.get("benefit", ""),
            organisation_id=_int_param(request, "organisation"),
            area=q.get("area", ""),
            tag=tag,
            role=q.get("role", ""),
            limit=max(1, min(_int_param(request, "limit") or 200, 500)),
        )
    return JSONResponse({"people": [with_presence(request, p) for p in found]})


async def person(request: Request) -> Response:
    await require_viewer(request)
    async with core_of(request).db() as db:
        found = await repo.get_person(db, int(request.path_params["person_id"]))
    if found is None:
        return error(404, "not_found", "no such person")
    return JSONResponse(with_presence(request, found))


async def organisations(request: Request) -> Response:
    await require_viewer(request)
    async with core_of(request).db() as db:
        return JSONResponse(
            {"organisations": await repo.list_organisations(db), "areas": await repo.list_areas(db)}
        )


async def photo(request: Request) -> Response:
    await require_viewer(request)
    async with core_of(request).db() as db:
        found = await repo.get_photo(db, int(request.path_params["person_id"]))
    if found is None:
        return error(404, "not_found", "no photo")
    return Response(
        found.data,
        media_type=found.content_type,
        headers={"Cache-Control": "private, max-age=86400"},
    )


def sniff_photo(data: bytes) -> str | None:
    for magic, content_type in PHOTO_TYPES.items():
        if data.startswith(magic) and (content_type != "image/webp" or data[8:12] == b"WEBP"):
            return content_type
    return None


async def store_photo(request: Request, person_id: int, data: bytes) -> str | None:
    """Saves an uploaded photo; returns an error reason or None."""
    core = core_of(request)
    if len(data) > core.settings.max_photo_bytes:
        return f"the photo is larger than {core.settings.max_photo_bytes // 1024} KiB"
    content_type = sniff_photo(data)
    if content_type is None:
        return "the photo must be a PNG, JPEG or WebP image"
    async with core.db.begin() as db:
        await repo.set_photo(db, person_id, content_type, data)
    return None


async def upload_photo(request: Request) -> Response:
    viewer = await require_viewer(request)
    try:
        form = await capped_form(request, core_of(request).settings.max_photo_bytes)
    except BodyTooLarge as e:
        return error(413, "too_large", too_large_reason(e.limit))
    upload = form.get("photo")
    if upload is None or isinstance(upload, str):
        return error(400, "bad_field", "send the image as a multipart field named photo")
    problem = await store_photo(request, viewer.person_id, await upload.read())
    if problem:
        return error(400, "bad_photo", problem)
    return JSONResponse({"ok": True})


PROFILE_TEXT = {"ask_me_about": 2000, "title": 200}  # the longest stored forms
MAX_TAGS, MAX_TAG_CHARS, MAX_PHONE_CHARS = 20, 50, 50


def clean_profile(fields: dict[str, Any], secret: Callable[[], bytes]) -> dict[str, Any]:
    """A person's own profile changes as they will be stored: free text trimmed, with
    identity codes replaced (docs/consultations.md), within the limits in that form; a
    work phone must be a phone number. Refusals name the field, never its value."""
    changes: dict[str, Any] = {}

    def scrub(text: str) -> str:
        return identity.redact_identity_codes(text.strip(), secret)[0]

    for key, value in fields.items():
        if key in PROFILE_TEXT:
            text = scrub(value) if isinstance(value, str) else None
            if text is None or len(text) > PROFILE_TEXT[key]:
                raise Refused("bad_field", f"{key} must be text of at most {PROFILE_TEXT[key]}")
            changes[key] = text
        elif key == "work_phone":
            phone = " ".join(value.split()) if isinstance(value, str) else None
            if phone is None or len(phone) > MAX_PHONE_CHARS:
                raise Refused("bad_field", f"work_phone: {PHONE_RULE}")
            if phone and not is_phone_number(phone):
                raise Refused("bad_field", f"work_phone: {PHONE_RULE}")
            changes[key] = phone
        elif key == "tags":
            given = value if isinstance(value, list) else []
            tags = [scrub(t) for t in given if isinstance(t, str)]
            if (
                not isinstance(value, list)
                or len(tags) != len(value)
                or len(tags) > MAX_TAGS
                or not all(0 < len(t) <= MAX_TAG_CHARS for t in tags)
            ):
                raise Refused(
                    "bad_field",
                    f"tags must be a list of at most {MAX_TAGS} texts of 1 to {MAX_TAG_CHARS}",
                )
            changes["tags"] = tags
        elif key == "languages":
            if not isinstance(value, list) or not all(
                isinstance(t, str) and len(t) == 2 and t.isascii() and t.isalpha() for t in value
            ):
                raise Refused("bad_field", "languages must be a list of two-letter codes")
            changes["languages"] = [t.lower() for t in value]
        else:
            raise Refused(
                "bad_field",
                "unknown field; the fields are "
                + ", ".join(sorted([*PROFILE_TEXT, "work_phone", "tags", "languages"])),
            )
    return changes


async def update_profile(request: Request) -> Response:
    viewer = await require_viewer(request)
    core = core_of(request)
    changes = clean_profile(await json_body(request), core.settings.secret_key)
    async with core.db.begin() as db:
        await repo.update_person_profile(db, viewer.person_id, **changes)
        found = await repo.get_person(db, viewer.person_id)
    assert found is not None
    return JSONResponse(with_presence(request, found))


async def update_presence(request: Request) -> Response:
    viewer = await require_viewer(request)
    view = await core_of(request).presence.update(viewer.person_id, await json_body(request))
    return JSONResponse(view)


async def set_language(request: Request) -> Response:
    viewer = await require_viewer(request)
    body = await json_body(request)
    if body.get("language") not in ("fi", "sv", "en"):
        return error(400, "bad_field", "language must be fi, sv or en")
    await core_of(request).accounts.set_language(viewer.account_id, body["language"])
    return JSONResponse({"language": body["language"]})


# ---------------------------------------------------------------- conversations


async def conversations(request: Request) -> Response:
    viewer = await require_viewer(request)
    return JSONResponse({"conversations": await core_of(request).chat.summaries(viewer.person_id)})


async def create_conversation(request: Request) -> Response:
    viewer = await require_viewer(request)
    body = await json_body(request)
    chat = core_of(request).chat
    if "person_id" in body:
        other = body["person_id"]
        if not is_row_id(other):
            return error(400, "bad_field", "person_id must be a whole number")
        summary = await chat.open_direct(viewer.person_id, other)
    else:
        summary = await chat.create_group(viewer.person_id, body.get("title"), body.get("members"))
    return JSONResponse(summary, status_code=201)


async def conversation_messages(request: Request) -> Response:
    viewer = await require_viewer(request)
    core = core_of(request)
    limit = _int_param(request, "limit") or core.settings.history_page_size
    messages = await core.chat.history(
        viewer.person_id,
        int(request.path_params["conversation_id"]),
        _int_param(request, "before"),
        max(1, limit),
    )
    return JSONResponse({"messages": messages})


async def update_conversation(request: Request) -> Response:
    viewer = await require_viewer(request)
    body = await json_body(request)
    summary = await core_of(request).chat.rename(
        viewer.person_id,
        viewer.is_admin,
        int(request.path_params["conversation_id"]),
        body.get("title"),
    )
    return JSONResponse(summary)


async def add_member(request: Request) -> Response:
    viewer = await require_viewer(request)
    body = await json_body(request)
    person_id = body.get("person_id")
    if not is_row_id(person_id):
        return error(400, "bad_field", "person_id must be a whole number")
    summary = await core_of(request).chat.add_member(
        viewer.person_id,
        viewer.is_admin,
        int(request.path_params["conversation_id"]),
        person_id,
    )
    return JSONResponse(summary)


async def remove_member(request: Request) -> Response:
    viewer = await require_viewer(request)
    await core_of(request).chat.remove_member(
        viewer.person_id,
        viewer.is_admin,
        int(request.path_params["conversation_id"]),
        int(request.path_params["person_id"]),
    )
    return Response(status_code=204)


# ---------------------------------------------------------------- rings and consultations


async def rings(request: Request) -> Response:
    viewer = await require_viewer(request)
    return JSONResponse({"rings": core_of(request).rings.rings_for(viewer.person_id)})


async def consultations(request: Request) -> Response:
    viewer = await require_viewer(request)
    limit = max(1, min(_int_param(request, "limit") or 100, 1000))
    found = await core_of(request).rings.consultations_of(viewer.person_id, limit)
    return JSONResponse({"consultations": found})


async def consultation_conversations(request: Request) -> Response:
    viewer = await require_viewer(request)
    found = await core_of(request).rings.consultation_conversations(viewer.person_id)
    return JSONResponse({"conversations": found})


async def missed_offers(request: Request) -> Response:
    viewer = await require_viewer(request)
    return JSONResponse({"missed": await core_of(request).rings.missed_for(viewer.person_id)})


async def lookup_consultations(request: Request) -> Response:
    """Earlier consultations about a client. The code comes in the body, never the URL,
    so it cannot end up in access logs; only its pseudonym is compared."""
    viewer = await require_viewer(request)
    body = await json_body(request)
    ring_service = core_of(request).rings
    client_ref = ring_service.client_reference(body.get("client_code"))
    if client_ref is None:
        return error(400, "bad_field", "client_code is required")
    found = await ring_service.consultations_about(client_ref)
    await audit_lookup(request, viewer, "client_lookup", f"{client_ref} ({len(found)} found)")
    return JSONResponse({"client_ref": client_ref, "consultations": found})


async def export_consultations(request: Request) -> Response:
    viewer = await require_viewer(request)
    text = await core_of(request).rings.export_csv(viewer.person_id, viewer.is_admin)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="consultations.csv"'},
    )


async def callbacks(request: Request) -> Response:
    viewer = await require_viewer(request)
    return JSONResponse({"callbacks": await core_of(request).rings.callbacks_for(viewer.person_id)})


# ---------------------------------------------------------------- load view


def _period(request: Request, default_days: int) -> tuple[int, str]:
    """`days` and `by` of a load request; absent means the default, not zero."""
    days = _int_param(request, "days")
    return default_days if days is None else days, request.query_params.get("by") or "day"


async def load(request: Request) -> Response:
    viewer = await require_viewer(request)
    return JSONResponse(await core_of(request).load.snapshot(viewer.person_id, viewer.is_admin))


async def load_history(request: Request) -> Response:
    viewer = await require_viewer(request)
    days, by = _period(request, 7)
    data = await core_of(request).load.history(
        viewer.person_id, viewer.is_admin, request.path_params["ring_id"], days, by
    )
    return JSONResponse(data)


async def load_history_csv(request: Request) -> Response:
    viewer = await require_viewer(request)
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


async def load_people(request: Request) -> Response:
    viewer = await require_viewer(request)
    days, _ = _period(request, 1)
    data = await core_of(request).load.people(
        viewer.person_id, viewer.is_admin, request.path_params["ring_id"], days
    )
    return JSONResponse(data)


async def load_mine(request: Request) -> Response:
    viewer = await require_viewer(request)
    data = await core_of(request).load.mine(viewer.person_id, _period(request, 1)[0])
    return JSONResponse(data)


# ---------------------------------------------------------------- administration


async def require_admin(request: Request) -> Viewer:
    viewer = await require_viewer(request)
    if not viewer.is_admin:
        raise HTTPException(403, "administrators only")
    return viewer


async def accounts(request: Request) -> Response:
    await require_admin(request)
    async with core_of(request).db() as db:
        return JSONResponse({"accounts": await repo.list_accounts(db)})


async def create_account(request: Request) -> Response:
    await require_admin(request)
    body = await json_body(request)
    username, password = body.get("username"), body.get("password")
    person_id, is_admin = body.get("person_id"), body.get("is_admin", False)
    if not isinstance(username, str) or not isinstance(password, str):
        return error(400, "bad_field", "username and password must be text")
    if not is_row_id(person_id):
        return error(400, "bad_field", "person_id must be a whole number")
    if not isinstance(is_admin, bool):
        return error(400, "bad_field", "is_admin must be true or false")
    account = await core_of(request).accounts.create_account(
        username, password, person_id, is_admin
    )
    return JSONResponse({"id": account.id, "username": account.username}, status_code=201)


async def update_account(request: Request) -> Response:
    await require_admin(request)
    body = await json_body(request)
    if not isinstance(body.get("disabled"), bool):
        return error(400, "bad_field", "disabled must be true or false")
    await core_of(request).accounts.set_disabled(
        int(request.path_params["account_id"]), body["disabled"]
    )
    return JSONResponse({"disabled": body["disabled"]})


async def login_locks(request: Request) -> Response:
    await require_admin(request)
    return JSONResponse({"locks": await core_of(request).logins.locks()})


async def unlock_login(request: Request) -> Response:
    viewer = await require_admin(request)
    await core_of(request).logins.unlock(
        int(request.path_params["lock_id"]), viewer.account_id, viewer.username
    )
    return Response(status_code=204)


async def audit_log(request: Request) -> Response:
    await require_admin(request)
    page = await core_of(request).audit.page(
        _int_param(request, "before"), _int_param(request, "limit") or 50
    )
    return JSONResponse(page)


async def configure_rings(request: Request) -> Response:
    """The `liaison rings` document over HTTP: applied all or nothing, and in force at once
    (members added are offered questions, members removed stop being, supervisors follow)."""
    await require_admin(request)
    core = core_of(request)
    try:
        counts = await apply_ring_config(core.db, await json_body(request))
    except RingConfigError as e:
        return error(400, "bad_field", "; ".join(e.problems)[:2000])
    await core.directory_changed()
    return JSONResponse(counts)


async def run_import(
    request: Request, dry_run: bool, filename: str, data: bytes, sheet: str | None = None
) -> dict[str, Any]:
    core = core_of(request)
    report = await import_directory(
        core.db, filename, data, dry_run, sheet=sheet, limits=ReadLimits.of(core.settings)
    )
    if report.applied:
        await core_of(request).directory_changed()
    result: dict[str, Any] = report.to_dict()
    return result


async def import_people(request: Request) -> Response:
    await require_admin(request)
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
    report = await run_import(request, dry_run, upload.filename or "", data, sheet)
    return JSONResponse(report, status_code=200 if not report["errors"] else 422)


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
