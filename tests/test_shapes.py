"""The typed shapes of people and chat: the JSON clients have always received, and
documented from the same classes (OpenAPI, JSON Schema, the tables of protocol.md)."""

from __future__ import annotations

import msgspec

from liaison import docgen
from liaison.domain.vocabulary import PresenceStatus
from liaison.protocol import conversations, people, server
from liaison.web.openapi import DOCUMENT
from tests.conftest import Server

# The field names the browser (static/js) and other clients read, as sent before the
# shapes were typed: a rename here is a change of the wire format.
WIRE = {
    people.Person: "id first_name last_name name title email organisation unit area roles "
    "benefits languages tags work_phone ask_me_about photo_url",
    people.PresenceView: "person_id status note dnd_until out_of_office_until "
    "out_of_office_note phone_hours last_seen changed_at",
    conversations.Message: "id conversation_id seq sender_id client_id body created_at",
    conversations.Conversation: "id kind title created_by last_seq members last_message",
    conversations.ConversationSummary: "id kind title created_by last_seq members "
    "last_message last_read_seq unread",
}


def test_the_shapes_keep_the_wire_names() -> None:
    for shape, names in WIRE.items():
        assert shape.__struct_fields__ == tuple(names.split()), shape.__name__


def test_a_presence_frame_is_the_view_with_its_type() -> None:
    view = people.PresenceView(
        person_id=7,
        status=PresenceStatus.DND,
        note="Kokouksessa",
        dnd_until="2026-01-05T13:00:00+02:00",
        out_of_office_until=None,
        out_of_office_note="",
        phone_hours=[people.PhoneHours(0, "09:00", "11:00")],
        last_seen=None,
        changed_at="2026-01-05T09:14:03.120561+00:00",
    )
    frame = msgspec.json.decode(server.encode(server.Presence.of(view)))
    assert frame == {"type": "presence", **msgspec.to_builtins(view)}


def test_every_shape_is_documented_where_it_is_sent() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    for shape in (people.PersonWithPresence, people.PresenceView, conversations.Message):
        assert shape.__name__ in schemas
    protocol = (docgen.DOCS / "protocol.md").read_text()
    for shape in docgen.SHAPES:
        assert f"<!-- generated: shape {shape.__name__} -->" in protocol


async def test_the_api_answers_the_shapes(server: Server) -> None:
    aino = await server.client("aino")
    me = (await aino.api("GET", "/api/me")).json()
    person = msgspec.convert(me["person"], people.PersonWithPresence)
    assert person.id == server.people["aino"] and person.presence.person_id == person.id
    assert list(me["person"]) == [*WIRE[people.Person].split(), "presence"]
    created = await aino.api(
        "POST", "/api/conversations", json={"person_id": server.people["bertil"]}
    )
    assert created.status_code == 201
    summary = msgspec.convert(created.json(), conversations.ConversationSummary)
    assert summary.kind == "direct" and summary.last_message is None and summary.unread == 0
