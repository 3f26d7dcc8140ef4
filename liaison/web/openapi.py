"""The OpenAPI 3.1 document for the JSON endpoints (liaison/web/api.py), served at
/api/openapi.json. The real-time side (the WebSocket at /ws) is described in
docs/protocol.md; OpenAPI cannot express it.

The document is built by small helpers so that each operation reads as one block.
Keep it in step with liaison/web/api.py: every route there has an operation here.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse

from liaison.protocol import answers, conversations, people
from liaison.protocol import http as http_bodies
from liaison.protocol import load as load_shapes
from liaison.protocol import rings as ring_shapes
from liaison.protocol.common import schema_hook

Schema = dict[str, Any]


# ---------------------------------------------------------------- schema helpers


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"oneOf": [schema, {"type": "null"}]}


def string(description: str = "", **extra: Any) -> Schema:
    schema: Schema = {"type": "string", **extra}
    if description:
        schema["description"] = description
    return schema


def integer(description: str = "", **extra: Any) -> Schema:
    schema: Schema = {"type": "integer", **extra}
    if description:
        schema["description"] = description
    return schema


def boolean(description: str = "") -> Schema:
    schema: Schema = {"type": "boolean"}
    if description:
        schema["description"] = description
    return schema


def array(items: Schema, description: str = "", **extra: Any) -> Schema:
    schema: Schema = {"type": "array", "items": items, **extra}
    if description:
        schema["description"] = description
    return schema


def obj(
    properties: dict[str, Schema],
    required: list[str] | None = None,
    description: str = "",
    closed: bool = False,
) -> Schema:
    """An object; `required` defaults to every property (response shapes are complete)."""
    schema: Schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


# ---------------------------------------------------------------- operation helpers

SESSION: dict[str, list[str]] = {"sessionCookie": []}
# Unsafe methods: the session, and the double-submit CSRF token in cookie and header.
SESSION_AND_CSRF: dict[str, list[str]] = {"sessionCookie": [], "csrfCookie": [], "csrfHeader": []}


def json_content(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def ok(description: str, schema: Schema, status: str = "200") -> dict[str, Any]:
    return {status: {"description": description, "content": json_content(schema)}}


def errors(*statuses: str) -> dict[str, Any]:
    """Shared error responses by status; each has the body {"error", "reason"}."""
    return {
        status: {"$ref": f"#/components/responses/{ERROR_RESPONSES[status]}"} for status in statuses
    }


def operation(
    operation_id: str,
    summary: str,
    tag: str,
    responses: dict[str, Any],
    *,
    unsafe: bool = False,
    description: str = "",
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "security": [SESSION_AND_CSRF if unsafe else SESSION],
    }
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = body
    # Every authenticated operation can answer 401; unsafe ones also 403 (CSRF, Origin).
    common = ("401", "403") if unsafe else ("401",)
    op["responses"] = {**responses, **errors(*common)}
    return op


# Schemas that request-body models refer to (enums), added to the components below.
MODEL_SCHEMAS: dict[str, Schema] = {}
# Response models (liaison/protocol/people.py, conversations.py, rings.py, load.py), made
# components at once.
RESPONSE_MODELS: list[type[msgspec.Struct]] = []


def model(cls: type[msgspec.Struct]) -> Schema:
    """A response body's schema: a component generated from the class the handler
    answers with (liaison/web/api.py, `answer`)."""
    RESPONSE_MODELS.append(cls)
    return ref(cls.__name__)


def model_components() -> dict[str, Schema]:
    """Every response model's schema and those it refers to, generated in one go."""
    _, components = msgspec.json.schema_components(
        RESPONSE_MODELS, schema_hook=schema_hook, ref_template="#/components/schemas/{name}"
    )
    return components


def model_body(model: type[msgspec.Struct], description: str = "") -> dict[str, Any]:
    """A request body whose schema is generated from its model (liaison/protocol/http.py):
    the same class decodes and checks it in liaison/web/api.py."""
    (schema,), components = msgspec.json.schema_components(
        [model], schema_hook=schema_hook, ref_template="#/components/schemas/{name}"
    )
    # The body's own schema goes inline; the enums it names become components.
    name = model.__name__
    own = components.pop(name) if "$ref" in schema else schema
    MODEL_SCHEMAS.update(components)
    return json_body(own, description)


def json_body(schema: Schema, description: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"required": True, "content": json_content(schema)}
    if description:
        body["description"] = description
    return body


def path_id(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
    }


def query(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


# ---------------------------------------------------------------- components

ERROR_RESPONSES = {
    "400": "BadRequest",
    "401": "NotAuthenticated",
    "403": "Forbidden",
    "404": "NotFound",
    "409": "Conflict",
    "413": "TooLarge",
}


# Renaming and adding members: administrators who are not members get the shared view.
CONVERSATION_AFTER_CHANGE: Schema = {
    "anyOf": [model(conversations.ConversationSummary), model(conversations.Conversation)],
    "description": (
        "The ConversationSummary when the viewer is a member; otherwise (an administrator) "
        "the Conversation, without last_read_seq and unread."
    ),
}

READINESS = model(answers.Readiness)


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": json_content(model(answers.ErrorBody))}


COMPONENTS: dict[str, Any] = {
    "schemas": {},
    "responses": {
        "BadRequest": _error_response(
            "Invalid input: bad_request (body not a JSON object, query parameter not a whole "
            "number, malformed form) or a field-specific code such as bad_field."
        ),
        "NotAuthenticated": _error_response(
            "not_authenticated: no valid liaison_session cookie. Log in again."
        ),
        "Forbidden": _error_response(
            "forbidden: missing or wrong CSRF token, an Origin header that is not allowed, "
            "or an administrator-only endpoint; or a chat rule (not_a_member, not_allowed)."
        ),
        "NotFound": _error_response("not_found: no such person, conversation, account or photo."),
        "Conflict": _error_response("exists: the username is taken or the person has an account."),
        "TooLarge": _error_response(
            "too_large: the upload is over its limit (LIAISON_MAX_PHOTO_BYTES or "
            "LIAISON_MAX_IMPORT_BYTES, plus 64 KiB for the form). Answered as soon as the "
            "body passes it, or at once when Content-Length does; the rest is not read."
        ),
    },
    "securitySchemes": {
        "sessionCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": "liaison_session",
            "description": (
                "Set by POST /login (an HTML form: username, password, csrf_token). "
                "HttpOnly, SameSite=Lax; valid for LIAISON_SESSION_DAYS days."
            ),
        },
        "csrfCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": "liaison_csrf",
            "description": (
                "CSRF token set by any server-rendered page (e.g. GET /login) and anew by "
                "POST /login: after login it is bound to the session, so read it again "
                "after logging in. Unsafe methods need it in the X-CSRF-Token header."
            ),
        },
        "csrfHeader": {
            "type": "apiKey",
            "in": "header",
            "name": "X-CSRF-Token",
            "description": (
                "The value of the liaison_csrf cookie (pages also carry it in "
                '<meta name="csrf-token">). Required for POST, PUT, PATCH and DELETE. '
                "When an Origin header is sent, it must be the server's own origin or one "
                "listed in LIAISON_ALLOWED_ORIGINS."
            ),
        },
    },
}


# ---------------------------------------------------------------- paths

CONVERSATION_ID = path_id("conversation_id", "Conversation id")
PERSON_ID = path_id("person_id", "Person id")

PATHS: dict[str, Any] = {
    "/api/me": {
        "get": operation(
            "getMe",
            "The logged-in account and its directory entry",
            "me",
            ok("The viewer", model(people.Me)),
        )
    },
    "/api/me/profile": {
        "patch": operation(
            "updateProfile",
            "Change one's own directory fields",
            "me",
            {
                **ok("The updated entry", model(people.PersonWithPresence)),
                **errors("400"),
            },
            unsafe=True,
            description=(
                "Only the fields given change; text is trimmed and its identity codes are "
                "replaced (docs/consultations.md#identity-codes-in-free-text); the limits "
                "hold for the stored form. work_phone is empty or a phone number: 6 to 15 "
                "digits in groups separated by a space or a hyphen, optionally a leading + "
                "and one group in parentheses. Any other field, or a bad value, is refused "
                "with bad_field (the reason names the field, never the value) and nothing "
                "changes."
            ),
            body=model_body(http_bodies.ProfileChanges),
        )
    },
    "/api/me/presence": {
        "patch": operation(
            "updatePresence",
            "Change one's own status, note, out of office or phone hours",
            "me",
            {
                **ok(
                    "The viewer's presence as computed right after the change",
                    model(people.PresenceView),
                ),
                **errors("400"),
            },
            unsafe=True,
            description=(
                "The same fields, checks and result as the WebSocket frame set_presence; the "
                "answer is the view every client is sent. Every client receives a presence "
                "frame when the view changes. Errors: bad_status; bad_field (a bad value, an "
                "unknown field, no field at all, dnd_until without status dnd)."
            ),
            body=model_body(http_bodies.PresenceChanges),
        )
    },
    "/api/me/photo": {
        "post": operation(
            "uploadPhoto",
            "Upload one's own photo",
            "me",
            {
                **ok("Stored", model(answers.Stored)),
                **errors("400", "413"),
            },
            unsafe=True,
            description=(
                "PNG, JPEG or WebP (recognised by content, not by the declared type), at "
                "most LIAISON_MAX_PHOTO_BYTES. Errors: bad_field (no part named photo), "
                "bad_photo (too large or not one of those formats)."
            ),
            body={
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": obj(
                            {"photo": string("The image file", contentMediaType="image/*")},
                        )
                    }
                },
            },
        )
    },
    "/api/me/language": {
        "put": operation(
            "setLanguage",
            "Choose the interface language",
            "me",
            {
                **ok("Saved", model(answers.LanguageSaved)),
                **errors("400"),
            },
            unsafe=True,
            body=model_body(http_bodies.LanguageChoice),
        )
    },
    "/api/people": {
        "get": operation(
            "searchPeople",
            "Search the directory",
            "directory",
            {
                **ok("Matches, sorted by last and first name", model(people.People)),
                **errors("400"),
            },
            parameters=[
                query(
                    "q",
                    string(),
                    "Free text (first 200 characters, first 8 words; an identity code in it is "
                    "searched as its client reference, as profiles store it); every word must "
                    "occur in the person's searchable text. Case, accents and hyphens are ignored "
                    "(a hyphen counts as a space); benefits and roles also match by their "
                    "Finnish, Swedish and English names (asumistuki, bostadsbidrag, "
                    "sosiaalityontekija).",
                ),
                query("benefit", string(), "Benefit code the person has, exactly"),
                query("organisation", integer(), "Organisation id"),
                query("area", string(), "Unit area, case-insensitive, exactly"),
                query("tag", string(), "Tag, case-insensitive, exactly"),
                query("role", string(), "Role code, exactly"),
                query(
                    "limit",
                    integer(),
                    "Maximum results; default 200 (also for 0); other values are clamped to "
                    "1 to 500",
                ),
            ],
        )
    },
    "/api/people/{person_id}": {
        "get": operation(
            "getPerson",
            "One directory entry with presence",
            "directory",
            {**ok("The person", model(people.PersonWithPresence)), **errors("404")},
            parameters=[PERSON_ID],
        )
    },
    "/api/organisations": {
        "get": operation(
            "listOrganisations",
            "Organisations with their units, and every area",
            "directory",
            ok("Organisations sorted by name; areas sorted", model(people.Organisations)),
        )
    },
    "/people/{person_id}/photo": {
        "get": operation(
            "getPhoto",
            "A person's photo",
            "directory",
            {
                "200": {
                    "description": (
                        "The image; Cache-Control: private, max-age=86400. photo_url carries a "
                        "version parameter that changes with each upload."
                    ),
                    "content": {
                        "image/png": {"schema": string(contentMediaType="image/png")},
                        "image/jpeg": {"schema": string(contentMediaType="image/jpeg")},
                        "image/webp": {"schema": string(contentMediaType="image/webp")},
                    },
                },
                **errors("404"),
            },
            parameters=[PERSON_ID, query("v", integer(), "Photo version; ignored by the server")],
        )
    },
    "/api/conversations": {
        "get": operation(
            "listConversations",
            "The viewer's conversations",
            "conversations",
            ok(
                "Most recent activity first; conversations without messages last",
                model(conversations.Conversations),
            ),
        ),
        "post": operation(
            "createConversation",
            "Open a direct conversation or create a group",
            "conversations",
            {
                **ok("The conversation", model(conversations.ConversationSummary), "201"),
                **errors("400", "404"),
            },
            unsafe=True,
            description=(
                "With person_id: the direct conversation with that person; an existing one "
                "is returned (still 201). Otherwise a new group with title and members (the "
                "creator is added; 2 to LIAISON_MAX_GROUP_MEMBERS people in all). Every "
                "member's connections receive a conversation frame. Errors: bad_field, "
                "group_full (400), not_found (404)."
            ),
            body=model_body(http_bodies.NewConversation),
        ),
    },
    "/api/conversations/{conversation_id}": {
        "patch": operation(
            "renameConversation",
            "Rename a group",
            "conversations",
            {
                **ok("The conversation", CONVERSATION_AFTER_CHANGE),
                **errors("400", "404"),
            },
            unsafe=True,
            description=(
                "Group members and administrators only (not_allowed, 403); direct "
                "conversations cannot be renamed (not_allowed, 403)."
            ),
            parameters=[CONVERSATION_ID],
            body=model_body(http_bodies.Rename),
        )
    },
    "/api/conversations/{conversation_id}/messages": {
        "get": operation(
            "conversationHistory",
            "A page of history",
            "conversations",
            {
                **ok(
                    "The newest messages before `before`, oldest first",
                    model(conversations.Messages),
                ),
                **errors("400", "403"),
            },
            description=(
                "Members only: not_a_member (403), also for a conversation that does not "
                "exist. To page backwards, pass the smallest seq received as before."
            ),
            parameters=[
                CONVERSATION_ID,
                query("before", integer(), "Only messages with seq below this"),
                query(
                    "limit",
                    integer(),
                    "Page size; default LIAISON_HISTORY_PAGE_SIZE (50; also for 0); other "
                    "values are clamped to 1 to 200",
                ),
            ],
        )
    },
    "/api/conversations/{conversation_id}/members": {
        "post": operation(
            "addMember",
            "Add a person to a group",
            "conversations",
            {
                **ok("The conversation", CONVERSATION_AFTER_CHANGE),
                **errors("400", "404"),
            },
            unsafe=True,
            description=(
                "Group members and administrators only. The newcomer starts with everything "
                "already sent counted as read. Errors: bad_field, already_member, group_full "
                "(400), not_allowed (403), not_found (404)."
            ),
            parameters=[CONVERSATION_ID],
            body=model_body(http_bodies.NewMember),
        )
    },
    "/api/conversations/{conversation_id}/members/{person_id}": {
        "delete": operation(
            "removeMember",
            "Remove a person from a group (or leave it)",
            "conversations",
            {"204": {"description": "Removed"}, **errors("400", "404")},
            unsafe=True,
            description=(
                "Group members and administrators only. Anyone may remove themselves "
                "(leave); removing someone else is refused when the group has only two "
                "members. The removed person's connections receive conversation_removed; "
                "the remaining members receive conversation. Errors: bad_field (400: "
                "removing someone else from a group of two), not_allowed (403), not_found "
                "(404: no such conversation, or the person is not a member)."
            ),
            parameters=[CONVERSATION_ID, PERSON_ID],
        )
    },
    "/api/rings": {
        "get": operation(
            "listRings",
            "Every ring with live counts and the viewer's membership",
            "consultations",
            ok("Rings", model(ring_shapes.RingList)),
            description=(
                "The same list as welcome.rings; signing in is the WebSocket frame ring_sign_in."
            ),
        )
    },
    "/api/consultations": {
        "get": operation(
            "listConsultations",
            "The viewer's consultations",
            "consultations",
            {
                **ok(
                    "Records where the viewer is asker, expert or third person, newest "
                    "first, with question text",
                    model(ring_shapes.ConsultationList),
                ),
                **errors("400"),
            },
            parameters=[
                query(
                    "limit",
                    integer(),
                    "Maximum records; default 100 (also for 0); other values are clamped to "
                    "1 to 1000",
                )
            ],
        )
    },
    "/api/consultations/conversations": {
        "get": operation(
            "listConsultationConversations",
            "Which of the viewer's conversations belong to consultations, and their state",
            "consultations",
            ok(
                "Every consultation of the viewer that has a conversation, oldest first",
                model(ring_shapes.ConsultationConversations),
            ),
            description=(
                "Clients list the conversations of closed consultations apart (ended), "
                "readable until message retention deletes their messages."
            ),
        )
    },
    "/api/consultations/lookup": {
        "post": operation(
            "lookupConsultations",
            "Earlier consultations about a client",
            "consultations",
            {
                **ok(
                    "The client reference and the 100 newest records with it, newest first; "
                    'question is "" in every record',
                    model(ring_shapes.ClientLookupResult),
                ),
                **errors("400"),
            },
            unsafe=True,
            description=(
                "The personal identity code goes in the body, never in the URL, so it "
                "cannot reach access logs; only its client reference is compared. Any "
                "logged-in user may look up. Errors (400): bad_field (client_code missing, "
                "empty or not text), invalid_identity_code (the reason names the failed "
                "check: format, century, date or check)."
            ),
            body=model_body(http_bodies.ClientLookup),
        )
    },
    "/api/consultations/export.csv": {
        "get": operation(
            "exportConsultations",
            "The consultation log as CSV",
            "consultations",
            {
                "200": {
                    "description": (
                        "An attachment named consultations.csv, oldest record first. "
                        "Administrators get every record, others the records where they are "
                        "asker, expert or third person. Columns: id, kind, ring_id, asker_id, "
                        "expert_id, third_party_id, state, asked_at, offered_at, accepted_at, "
                        "closed_at, wait_seconds, handle_seconds, missed_offers, outcome, "
                        "topic, legal_basis, client_ref (no question text)."
                    ),
                    "content": {"text/csv": {"schema": string()}},
                }
            },
        )
    },
    "/api/rings/missed": {
        "get": operation(
            "listMissedOffers",
            "Offers to the viewer that rang out or were withdrawn, and what became of them",
            "consultations",
            ok(
                "The last 7 days, newest first, at most 50; offers withdrawn because a "
                "colleague took the question are not listed",
                model(ring_shapes.MissedOffers),
            ),
        )
    },
    "/api/callbacks": {
        "get": operation(
            "listCallbacks",
            "Open callback requests the viewer may see",
            "consultations",
            ok(
                "Open and claimed requests the viewer created, owns, or may take through a "
                "ring (as a member or a supervisor of a member's unit), earliest due first",
                model(ring_shapes.CallbackList),
            ),
            description=(
                "Making and updating requests are the WebSocket frames callback_create and "
                "callback_update."
            ),
        )
    },
    "/api/load": {
        "get": operation(
            "getLoad",
            "Live and today's figures of the rings the viewer may see",
            "load",
            ok(
                "Admins see every ring, supervisors the rings of their units",
                model(load_shapes.LoadSnapshot),
            ),
            description=(
                "Live updates of the same figures: the WebSocket frame load_subscribe "
                "(docs/load.md). No message text, question text or client reference."
            ),
        )
    },
    "/api/load/rings/{ring_id}/history": {
        "get": operation(
            "getLoadHistory",
            "A ring's figures per hour or day over the last 7 or 30 days",
            "load",
            {
                **ok("Local days and hours", model(load_shapes.LoadHistory)),
                **errors("400", "403", "404"),
            },
            parameters=[
                {"name": "ring_id", "in": "path", "required": True, "schema": string()},
                query("days", integer(enum=[7, 30], default=7), "Today and the days before"),
                query("by", string(enum=["day", "hour"], default="day"), "Bucket size"),
            ],
            description=(
                "403 not_allowed: not a supervisor of the ring's units nor an admin; "
                "403 suppressed: fewer than 3 members and the viewer does not supervise "
                "them all."
            ),
        )
    },
    "/api/load/rings/{ring_id}/history.csv": {
        "get": operation(
            "getLoadHistoryCsv",
            "The same history as CSV",
            "load",
            {
                "200": {
                    "description": (
                        "Columns: ring_id, start, offered, answered, cancelled, timed_out, "
                        "overflowed, waiting, missed_offers, declined_offers, "
                        "answered_within_target, service_level, answered_share, "
                        "average_wait_seconds, p90_wait_seconds"
                    ),
                    "content": {"text/csv": {"schema": string()}},
                },
                **errors("400", "403", "404"),
            },
            parameters=[
                {"name": "ring_id", "in": "path", "required": True, "schema": string()},
                query("days", integer(enum=[7, 30], default=7), "Today and the days before"),
                query("by", string(enum=["day", "hour"], default="day"), "Bucket size"),
            ],
        )
    },
    "/api/load/rings/{ring_id}/people": {
        "get": operation(
            "getLoadPeople",
            "Per-person figures of a ring: the viewer's own, and their own unit's members'",
            "load",
            {
                **ok(
                    "Empty and suppressed when the ring has fewer than 3 members",
                    model(load_shapes.LoadPeople),
                ),
                **errors("400", "404"),
            },
            parameters=[
                {"name": "ring_id", "in": "path", "required": True, "schema": string()},
                query("days", integer(enum=[1, 7, 30], default=1), "1 is today"),
            ],
        )
    },
    "/api/load/me": {
        "get": operation(
            "getLoadMine",
            "The viewer's own figures in each ring they are a member of",
            "load",
            {
                **ok("One row per ring", model(load_shapes.LoadMine)),
                **errors("400"),
            },
            parameters=[query("days", integer(enum=[1, 7, 30], default=1), "1 is today")],
        )
    },
    "/api/admin/accounts": {
        "get": operation(
            "listAccounts",
            "Every account (administrators only)",
            "admin",
            {
                **ok("Sorted by username", model(people.Accounts)),
                **errors("403"),
            },
        ),
        "post": operation(
            "createAccount",
            "Create a login for a directory person (administrators only)",
            "admin",
            {
                **ok("Created", model(people.NewAccountCreated), "201"),
                **errors("400", "404", "409"),
            },
            unsafe=True,
            description=(
                "Types are checked strictly: username and password strings, person_id an "
                "integer, is_admin a boolean. Errors: bad_field (a wrong type; username "
                "empty, over 100 characters or with spaces after trimming), weak_password "
                "(under 8 characters), not_found (no such person; 404), exists (409)."
            ),
            body=model_body(http_bodies.NewAccount),
        ),
    },
    "/api/admin/accounts/{account_id}": {
        "patch": operation(
            "updateAccount",
            "Disable or re-enable an account (administrators only)",
            "admin",
            {
                **ok("Saved", model(people.AccountDisabled)),
                **errors("400", "404"),
            },
            unsafe=True,
            description=(
                "Disabling deletes the account's sessions and closes its live WebSocket "
                "connections on every node with close code 4009."
            ),
            parameters=[path_id("account_id", "Account id")],
            body=model_body(http_bodies.AccountChange),
        )
    },
    "/api/admin/import": {
        "post": operation(
            "importDirectory",
            "Import the directory from CSV or XLSX (administrators only)",
            "admin",
            {
                **ok(
                    "Imported (or, with dry_run, checked) without errors",
                    model(people.ImportReport),
                ),
                "422": {
                    "description": "The file has errors; nothing was changed",
                    "content": json_content(ref("ImportReport")),
                },
                **errors("400", "413"),
            },
            unsafe=True,
            description=(
                "All or nothing: a file with any error changes nothing and every error is "
                "listed. People missing from the file are kept. The file is read in a "
                "child process within LIAISON_IMPORT_SECONDS and LIAISON_IMPORT_MEMORY_BYTES; "
                "the format is in docs/directory.md."
            ),
            body={
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": obj(
                            {
                                "file": string("The CSV or XLSX file"),
                                "dry_run": string(
                                    "1, true, on or yes: report only, change nothing"
                                ),
                                "sheet": string(
                                    "XLSX: the worksheet to read (any case); default the "
                                    "active sheet when visible, else the first visible one"
                                ),
                            },
                            required=["file"],
                        )
                    }
                },
            },
        )
    },
    "/api/admin/rings": {
        "put": operation(
            "configureRings",
            "Configure rings and named contacts (administrators only)",
            "admin",
            {
                **ok("Applied, and in force at once", model(ring_shapes.RingsConfigured)),
                **errors("400"),
            },
            unsafe=True,
            description=(
                "The document of `liaison rings` (docs/rings.md): all or nothing; rings "
                "missing from it are left alone. Members added are offered questions, "
                "members removed stop being offered them, and supervisors' load views and "
                "callback lists follow, without a restart."
            ),
            body=model_body(http_bodies.RingsDocument),
        )
    },
    "/api/admin/locks": {
        "get": operation(
            "listLoginLocks",
            "Usernames and addresses locked out of logging in now (administrators only)",
            "admin",
            {
                **ok("The soonest to open first", model(people.LoginLocks)),
                **errors("403"),
            },
            description=(
                "A key is locked after LIAISON_LOGIN_LOCK_AFTER failed logins in a row for a "
                "username, or LIAISON_ADDRESS_LOCK_AFTER from one address, for "
                "LIAISON_LOGIN_LOCK_SECONDS (docs/accounts.md)."
            ),
        )
    },
    "/api/admin/locks/{lock_id}": {
        "delete": operation(
            "unlockLogin",
            "Lift a login lock (administrators only)",
            "admin",
            {"204": {"description": "Lifted; the key starts afresh"}, **errors("404")},
            unsafe=True,
            description="not_found (404): no such lock (it ran out, or was lifted). Audited.",
            parameters=[path_id("lock_id", "The lock's id, from GET /api/admin/locks")],
        )
    },
    "/api/admin/audit": {
        "get": operation(
            "getAuditLog",
            "The audit log of logins and identity-code lookups (administrators only)",
            "admin",
            {
                **ok("Newest first", model(people.AuditPage)),
                **errors("400", "403"),
            },
            description=(
                "Kept LIAISON_AUDIT_RETENTION_DAYS days. Never holds a personal identity "
                "code: a lookup records its kind and the client reference."
            ),
            parameters=[
                query("before", integer(), "Only events with a smaller id (paging)"),
                query("limit", integer(minimum=1, maximum=200), "Page size (default 50)"),
            ],
        )
    },
    "/api/openapi.json": {
        "get": {
            "operationId": "getOpenAPI",
            "summary": "This document",
            "tags": ["meta"],
            "security": [],
            "responses": ok("The OpenAPI document", {"type": "object"}),
        }
    },
    # Probes (liaison/web/health.py): no login; docs/architecture.md "Health and readiness".
    "/health": {
        "get": {
            "operationId": "getHealth",
            "summary": "Liveness: the process answers; no dependency is checked",
            "tags": ["meta"],
            "security": [],
            "responses": ok("Alive", model(answers.Liveness)),
        }
    },
    "/ready": {
        "get": {
            "operationId": "getReady",
            "summary": "Readiness: each dependency (database, bus), checked now",
            "tags": ["meta"],
            "security": [],
            "responses": {
                status: {"description": description, "content": json_content(READINESS)}
                for status, description in (
                    ("200", "Every dependency is up"),
                    ("503", "A dependency is down"),
                )
            },
        }
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Liaison JSON API",
        "version": "1",
        "description": (
            "The HTTP JSON endpoints of Liaison. Real-time chat and presence use the "
            "WebSocket at /ws, described in docs/protocol.md. Log in with the HTML form at "
            "/login to get the liaison_session cookie. Unsafe methods (POST, PUT, PATCH, "
            "DELETE) also need the X-CSRF-Token header equal to the liaison_csrf cookie. "
            'Errors have the body {"error": code, "reason": text}; an unexpected server '
            "failure is a plain-text 500."
        ),
    },
    "servers": [{"url": "/"}],
    "tags": [
        {"name": "me", "description": "The logged-in person"},
        {"name": "directory", "description": "People and organisations"},
        {"name": "conversations", "description": "Chat conversations (sending is on /ws)"},
        {
            "name": "consultations",
            "description": "Rings, the consultation log and callback requests (live on /ws)",
        },
        {"name": "load", "description": "Supervisors' load view of the rings (docs/load.md)"},
        {"name": "admin", "description": "Administrators only (others get 403 forbidden)"},
        {"name": "meta", "description": "About the API"},
    ],
    "security": [SESSION],
    "paths": PATHS,
    "components": {
        **COMPONENTS,
        "schemas": {**COMPONENTS["schemas"], **MODEL_SCHEMAS, **model_components()},
    },
}


async def openapi(request: Request) -> JSONResponse:
    """The document; docs/openapi.json is the same, written by scripts/docs."""
    return JSONResponse(DOCUMENT)
