"""Chat over the protocol: storage, order, acknowledgement, resend and resume."""

from __future__ import annotations

from tests.conftest import Client, Server, Socket, database_of


async def direct(client: Client, other_id: int) -> int:
    response = await client.api("POST", "/api/conversations", json={"person_id": other_id})
    assert response.status_code == 201, response.text
    conversation_id: int = response.json()["id"]
    return conversation_id


async def test_direct_message_is_acknowledged_and_delivered(server: Server) -> None:
    aino, bertil = await server.client("aino"), await server.client("bertil")
    a, b = await aino.socket(), await bertil.socket()
    conversation_id = await direct(aino, server.people["bertil"])
    # Opening the same pair again gives the same conversation, from either side.
    assert await direct(bertil, server.people["aino"]) == conversation_id
    await a.send({"type": "send", "id": "m1", "conversation_id": conversation_id, "body": "Hei!"})
    ack = await a.expect("ack", id="m1")
    assert ack["duplicate"] is False and ack["message"]["seq"] == 1
    frame = await b.expect("message")
    assert frame["message"]["body"] == "Hei!"
    assert frame["message"]["sender_id"] == server.people["aino"]


async def test_a_body_of_several_lines_arrives_as_sent(server: Server) -> None:
    """The bus carries a frame after its header's first newline: newlines, quotes and
    backslashes in a body must still arrive exactly (they are escaped in the frame)."""
    aino, bertil = await server.client("aino"), await server.client("bertil")
    a, b = await aino.socket(), await bertil.socket()
    conversation_id = await direct(aino, server.people["bertil"])
    body = 'Rivi yksi\nrivi "kaksi" \\ ja\n{"k": "deliver"}'
    await a.send({"type": "send", "id": "n1", "conversation_id": conversation_id, "body": body})
    assert (await a.expect("ack", id="n1"))["message"]["body"] == body
    assert (await b.expect("message"))["message"]["body"] == body


async def test_messages_arrive_in_order_with_gapless_sequence(server: Server) -> None:
    aino, bertil = await server.client("aino"), await server.client("bertil")
    a, b = await aino.socket(), await bertil.socket()
    conversation_id = await direct(aino, server.people["bertil"])
    for i in range(30):
        await a.send(
            {"type": "send", "id": f"o{i}", "conversation_id": conversation_id, "body": f"{i}"}
        )
    received = [(await b.expect("message"))["message"] for _ in range(30)]
    assert [m["seq"] for m in received] == list(range(1, 31))
    assert [m["body"] for m in received] == [str(i) for i in range(30)]


async def test_two_senders_at_once_get_distinct_sequence_numbers(server: Server) -> None:
    aino, bertil = await server.client("aino"), await server.client("bertil")
    a, b = await aino.socket(), await bertil.socket()
    conversation_id = await direct(aino, server.people["bertil"])
    for i in range(10):
        await a.send(
            {"type": "send", "id": f"a{i}", "conversation_id": conversation_id, "body": "a"}
        )
        await b.send(
            {"type": "send", "id": f"b{i}", "conversation_id": conversation_id, "body": "b"}
        )
    acks = [await a.expect("ack") for _ in range(10)] + [await b.expect("ack") for _ in range(10)]
    assert sorted(x["message"]["seq"] for x in acks) == list(range(1, 21))
    history = (
        await aino.api("GET", f"/api/conversations/{conversation_id}/messages?limit=50")
    ).json()
    assert [m["seq"] for m in history["messages"]] == list(range(1, 21))


async def test_a_resend_with_the_same_id_never_duplicates(server: Server) -> None:
    aino, bertil = await server.client("aino"), await server.client("bertil")
    a, b = await aino.socket(), await bertil.socket()
    conversation_id = await direct(aino, server.people["bertil"])
    frame = {"type": "send", "id": "same-id", "conversation_id": conversation_id, "body": "Kerran"}
    await a.send(frame)
    first = await a.expect("ack", id="same-id")
    # As after a reconnect: a new socket sends the unacknowledged frame again.
    await a.close()
    a2 = await aino.socket()
    await a2.send(frame)
    second = await a2.expect("ack", id="same-id")
    assert second["duplicate"] is True
    assert second["message"]["id"] == first["message"]["id"]
    await b.expect("message")
    await b.no_frame("message")
    history = (await bertil.api("GET", f"/api/conversations/{conversation_id}/messages")).json()
    assert len(history["messages"]) == 1


async def test_resume_after_reconnect_delivers_what_was_missed_in_order(server: Server) -> None:
    aino, bertil = await server.client("aino"), await server.client("bertil")
    a = await aino.socket()
    conversation_id = await direct(aino, server.people["bertil"])
    b = await bertil.socket()
    await a.send({"type": "send", "id": "r0", "conversation_id": conversation_id, "body": "ennen"})
    seen = (await b.expect("message"))["message"]["seq"]
    await b.close()
    for i in range(1, 6):
        await a.send(
            {"type": "send", "id": f"r{i}", "conversation_id": conversation_id, "body": f"{i}"}
        )
        await a.expect("ack", id=f"r{i}")
    b2 = await bertil.socket(resume={str(conversation_id): seen})
    missed = b2.welcome["missed"]
    assert [m["body"] for m in missed] == ["1", "2", "3", "4", "5"]
    assert [m["seq"] for m in missed] == [2, 3, 4, 5, 6]
    assert b2.welcome["truncated"] == []
    summary = next(c for c in b2.welcome["conversations"] if c["id"] == conversation_id)
    assert summary["unread"] == 6


async def test_resume_is_bounded_and_says_so(server_factory: object) -> None:
    async with server_factory(resume_max_messages=3) as srv:  # type: ignore[operator]
        aino, bertil = await srv.client("aino"), await srv.client("bertil")
        a = await aino.socket()
        conversation_id = await direct(aino, srv.people["bertil"])
        for i in range(5):
            await a.send(
                {"type": "send", "id": f"t{i}", "conversation_id": conversation_id, "body": "x"}
            )
            await a.expect("ack")
        b = await bertil.socket(resume={str(conversation_id): 0})
        assert len(b.welcome["missed"]) == 3
        assert b.welcome["truncated"] == [conversation_id]


async def test_sync_fills_a_gap(server: Server) -> None:
    aino = await server.client("aino")
    a = await aino.socket()
    conversation_id = await direct(aino, server.people["bertil"])
    for i in range(4):
        await a.send(
            {"type": "send", "id": f"s{i}", "conversation_id": conversation_id, "body": f"{i}"}
        )
        await a.expect("ack")
    await a.send({"type": "sync", "conversation_id": conversation_id, "after_seq": 2, "ref": 7})
    reply = await a.expect("messages")
    assert reply["ref"] == 7 and reply["complete"] is True
    assert [m["seq"] for m in reply["messages"]] == [3, 4]


async def test_history_pages_backwards(server: Server) -> None:
    aino = await server.client("aino")
    a = await aino.socket()
    conversation_id = await direct(aino, server.people["bertil"])
    for i in range(12):
        await a.send(
            {"type": "send", "id": f"h{i}", "conversation_id": conversation_id, "body": f"{i}"}
        )
        await a.expect("ack")
    url = f"/api/conversations/{conversation_id}/messages"
    page1 = (await aino.api("GET", f"{url}?limit=5")).json()["messages"]
    assert [m["seq"] for m in page1] == [8, 9, 10, 11, 12]
    page2 = (await aino.api("GET", f"{url}?limit=5&before=8")).json()["messages"]
    assert [m["seq"] for m in page2] == [3, 4, 5, 6, 7]
    page3 = (await aino.api("GET", f"{url}?limit=5&before=3")).json()["messages"]
    assert [m["seq"] for m in page3] == [1, 2]


async def test_unread_counts_and_read_markers(server: Server) -> None:
    aino, bertil = await server.client("aino"), await server.client("bertil")
    a, b = await aino.socket(), await bertil.socket()
    conversation_id = await direct(aino, server.people["bertil"])
    for i in range(3):
        await a.send(
            {"type": "send", "id": f"u{i}", "conversation_id": conversation_id, "body": "x"}
        )
        await a.expect("ack")
    summaries = (await bertil.api("GET", "/api/conversations")).json()["conversations"]
    assert summaries[0]["unread"] == 3
    await b.send({"type": "read", "conversation_id": conversation_id, "seq": 2})
    marker = await a.expect("read", person_id=server.people["bertil"])
    assert marker["seq"] == 2
    summaries = (await bertil.api("GET", "/api/conversations")).json()["conversations"]
    assert summaries[0]["unread"] == 1
    # Markers never move backwards, nor past the last message.
    await b.send({"type": "read", "conversation_id": conversation_id, "seq": 1})
    assert (await a.expect("read"))["seq"] == 2
    await b.send({"type": "read", "conversation_id": conversation_id, "seq": 99})
    assert (await a.expect("read"))["seq"] == 3


async def test_typing_indicator_reaches_the_others_only(server: Server) -> None:
    aino, bertil = await server.client("aino"), await server.client("bertil")
    a, b = await aino.socket(), await bertil.socket()
    conversation_id = await direct(aino, server.people["bertil"])
    await a.send({"type": "typing", "conversation_id": conversation_id})
    frame = await b.expect("typing")
    assert frame == {
        "type": "typing",
        "conversation_id": conversation_id,
        "person_id": server.people["aino"],
    }
    await a.no_frame("typing")


async def test_message_text_is_stored_as_plain_text(server: Server) -> None:
    aino, bertil = await server.client("aino"), await server.client("bertil")
    a, b = await aino.socket(), await bertil.socket()
    conversation_id = await direct(aino, server.people["bertil"])
    body = "<script>alert(1)</script> & https://example.org/ohje"
    await a.send({"type": "send", "id": "x1", "conversation_id": conversation_id, "body": body})
    assert (await b.expect("message"))["message"]["body"] == body


async def test_a_message_over_the_limit_gets_a_clear_error(server_factory: object) -> None:
    async with server_factory(max_message_chars=100) as srv:  # type: ignore[operator]
        aino = await srv.client("aino")
        a = await aino.socket()
        conversation_id = await direct(aino, srv.people["bertil"])
        await a.send(
            {"type": "send", "id": "big", "conversation_id": conversation_id, "body": "x" * 101}
        )
        error = await a.expect("error")
        assert error["code"] == "message_too_long" and error["id"] == "big"
        assert "100" in error["reason"]
        await a.send(
            {"type": "send", "id": "ok", "conversation_id": conversation_id, "body": "x" * 100}
        )
        await a.expect("ack", id="ok")


async def group(client: Client, title: str, members: list[int]) -> dict:  # type: ignore[type-arg]
    response = await client.api(
        "POST", "/api/conversations", json={"title": title, "members": members}
    )
    assert response.status_code == 201, response.text
    result: dict = response.json()  # type: ignore[type-arg]
    return result


async def test_group_conversation_and_membership(server: Server) -> None:
    p = server.people
    clients = {n: await server.client(n) for n in ("aino", "bertil", "cecilia", "daniel", "admin")}
    sockets: dict[str, Socket] = {n: await c.socket() for n, c in clients.items()}
    created = await group(clients["aino"], "Miniverkosto", [p["bertil"], p["cecilia"]])
    cid = created["id"]
    assert [m["person_id"] for m in created["members"]] == sorted(
        [p["aino"], p["bertil"], p["cecilia"]]
    )
    await sockets["cecilia"].expect("conversation")
    await sockets["aino"].send(
        {"type": "send", "id": "g1", "conversation_id": cid, "body": "Tervetuloa"}
    )
    for name in ("bertil", "cecilia"):
        await sockets[name].expect("message")
    await sockets["daniel"].no_frame("message")

    # A member adds Daniel, who starts with nothing unread.
    response = await clients["bertil"].api(
        "POST", f"/api/conversations/{cid}/members", json={"person_id": p["daniel"]}
    )
    assert response.status_code == 200, response.text
    announced = await sockets["daniel"].expect("conversation")
    assert p["daniel"] in [m["person_id"] for m in announced["conversation"]["members"]]
    summary = next(
        c
        for c in (await clients["daniel"].api("GET", "/api/conversations")).json()["conversations"]
        if c["id"] == cid
    )
    assert summary["unread"] == 0

    # Someone outside the group cannot change it; an admin can.
    eeva = await server.client("eeva")
    response = await eeva.api(
        "POST", f"/api/conversations/{cid}/members", json={"person_id": p["eeva"]}
    )
    assert response.status_code == 403
    response = await clients["admin"].api(
        "DELETE", f"/api/conversations/{cid}/members/{p['cecilia']}"
    )
    assert response.status_code == 204
    await sockets["cecilia"].expect("conversation_removed", conversation_id=cid)
    await sockets["cecilia"].send({"type": "send", "id": "g2", "conversation_id": cid, "body": "?"})
    assert (await sockets["cecilia"].expect("error"))["code"] == "not_a_member"

    # Renaming reaches every member.
    response = await clients["daniel"].api(
        "PATCH", f"/api/conversations/{cid}", json={"title": "Turvaetuudet"}
    )
    assert response.status_code == 200
    frame = await sockets["aino"].expect("conversation")
    while frame["conversation"]["title"] != "Turvaetuudet":
        frame = await sockets["aino"].expect("conversation")


async def test_group_rules_are_enforced(server_factory: object) -> None:
    async with server_factory(max_group_members=3) as srv:  # type: ignore[operator]
        p = srv.people
        aino = await srv.client("aino")
        bad = [
            {"title": "", "members": [p["bertil"]]},
            {"title": "x" * 101, "members": [p["bertil"]]},
            {"title": "Yksin", "members": []},
            {"title": "Liian iso", "members": [p["bertil"], p["cecilia"], p["daniel"]]},
            {"title": "Outo", "members": ["bertil"]},
            {"title": "Tuntematon", "members": [99999]},
        ]
        for body in bad:
            response = await aino.api("POST", "/api/conversations", json=body)
            assert response.status_code in (400, 404), (body, response.text)
            assert response.json()["error"] in ("bad_field", "group_full", "not_found")
        direct_response = await aino.api(
            "POST", "/api/conversations", json={"person_id": p["aino"]}
        )
        assert direct_response.status_code == 400
        created = await group(aino, "Kolme", [p["bertil"], p["cecilia"]])
        response = await aino.api(
            "POST", f"/api/conversations/{created['id']}/members", json={"person_id": p["daniel"]}
        )
        assert response.json()["error"] == "group_full"
        # A direct conversation's members never change.
        cid = await direct(aino, p["bertil"])
        response = await aino.api(
            "POST", f"/api/conversations/{cid}/members", json={"person_id": p["daniel"]}
        )
        assert response.status_code == 403


async def test_history_of_someone_elses_conversation_is_refused(server: Server) -> None:
    aino = await server.client("aino")
    conversation_id = await direct(aino, server.people["bertil"])
    cecilia = await server.client("cecilia")
    response = await cecilia.api("GET", f"/api/conversations/{conversation_id}/messages")
    assert response.status_code == 403
    c = await cecilia.socket()
    await c.send({"type": "sync", "conversation_id": conversation_id, "after_seq": 0})
    assert (await c.expect("error"))["code"] == "not_a_member"
    await c.send({"type": "typing", "conversation_id": conversation_id})
    assert (await c.expect("error"))["code"] == "not_a_member"


async def test_messages_and_read_markers_survive_a_restart(server_factory: object) -> None:
    async with server_factory() as srv:  # type: ignore[operator]
        aino = await srv.client("aino")
        a = await aino.socket()
        conversation_id = await direct(aino, srv.people["bertil"])
        await a.send(
            {"type": "send", "id": "keep", "conversation_id": conversation_id, "body": "Pysyy"}
        )
        await a.expect("ack")
        database = database_of(srv)
        async with server_factory(**database) as again:  # type: ignore[operator]
            bertil = await again.client("bertil")
            b = await bertil.socket()
            summary = next(c for c in b.welcome["conversations"] if c["id"] == conversation_id)
            assert summary["unread"] == 1
            assert summary["last_message"]["body"] == "Pysyy"
            # The same client id after the restart is still recognised.
            a2 = await (await again.client("aino")).socket()
            await a2.send(
                {"type": "send", "id": "keep", "conversation_id": conversation_id, "body": "Pysyy"}
            )
            assert (await a2.expect("ack"))["duplicate"] is True


def identity_code(birth: str = "131052", sign: str = "-", individual: str = "308") -> str:
    """A valid personal identity code: DDMMYY, century sign, ZZZ, check character."""
    checks = "0123456789ABCDEFHJKLMNPRSTUVWXY"
    return f"{birth}{sign}{individual}{checks[int(birth + individual) % 31]}"


def with_wrong_check(code: str) -> str:
    checks = "0123456789ABCDEFHJKLMNPRSTUVWXY"
    return code[:-1] + checks[(checks.index(code[-1]) + 1) % 31]


async def test_identity_codes_in_messages_are_replaced_by_pseudonyms(server: Server) -> None:
    from sqlalchemy import select

    from liaison.domain.identity import pseudonymise
    from liaison.store.models import Message
    from tests.conftest import TEST_SECRET

    aino, bertil = await server.client("aino"), await server.client("bertil")
    a, b = await aino.socket(), await bertil.socket()
    conversation_id = await direct(aino, server.people["bertil"])
    code, second = identity_code(), identity_code("290200", "A", "123")
    pseudonym = pseudonymise(code, TEST_SECRET.encode())
    assert pseudonym.startswith("AR-")
    body = f"Asiakas {code} soitti, ja hänen lapsensa ({second.lower()})."
    await a.send({"type": "send", "id": "hetu", "conversation_id": conversation_id, "body": body})
    ack = await a.expect("ack", id="hetu")
    frame = await b.expect("message")
    expected = (
        f"Asiakas {pseudonym} soitti, ja hänen lapsensa "
        f"({pseudonymise(second, TEST_SECRET.encode())})."
    )
    assert frame["message"]["body"] == expected
    assert ack["message"]["body"] == expected
    # The count is for the sender's acknowledgement only, never in the members' frame.
    assert "redacted" not in frame["message"]
    assert ack.get("redacted", ack["message"].get("redacted")) == 2
    history = await bertil.api("GET", f"/api/conversations/{conversation_id}/messages")
    assert history.json()["messages"][0]["body"] == expected
    assert code not in history.text and second.lower() not in history.text.lower()
    summaries = await bertil.api("GET", "/api/conversations")
    assert code not in summaries.text
    async with server.core.db() as db:
        stored = (await db.scalars(select(Message.body))).all()
    assert stored == [expected]
    # A resend of the same frame is recognised; nothing new is stored.
    await a.send({"type": "send", "id": "hetu", "conversation_id": conversation_id, "body": body})
    again = await a.expect("ack", id="hetu")
    assert again["duplicate"] is True and again["message"]["body"] == expected


async def test_identity_code_lookalikes_are_left_alone(server: Server) -> None:
    aino, bertil = await server.client("aino"), await server.client("bertil")
    a, b = await aino.socket(), await bertil.socket()
    conversation_id = await direct(aino, server.people["bertil"])
    no_such_day = identity_code("321052")  # the 32nd: not a date, so not a code
    body = f"Tilausnumero {no_such_day} ja päivämäärä 131052"
    await a.send(
        {"type": "send", "id": "lookalike", "conversation_id": conversation_id, "body": body}
    )
    ack = await a.expect("ack", id="lookalike")
    assert (await b.expect("message"))["message"]["body"] == body
    assert ack.get("redacted", ack["message"].get("redacted")) == 0
    history = (await bertil.api("GET", f"/api/conversations/{conversation_id}/messages")).json()
    assert history["messages"][0]["body"] == body


async def test_a_code_with_a_wrong_check_character_is_still_a_code(server: Server) -> None:
    aino, bertil = await server.client("aino"), await server.client("bertil")
    a, b = await aino.socket(), await bertil.socket()
    conversation_id = await direct(aino, server.people["bertil"])
    wrong = with_wrong_check(identity_code())
    body = f"Hetu {wrong.lower()} ja {wrong[:-1]}, kiitos"
    await a.send({"type": "send", "id": "typo", "conversation_id": conversation_id, "body": body})
    ack = await a.expect("ack", id="typo")
    # The right check character is a recomputation away; a guess at the reference could
    # be another person's, so a mark takes the code's place (docs/consultations.md).
    expected = "Hetu [identity code] ja [identity code], kiitos"
    assert (ack["redacted"], ack["message"]["body"]) == (2, expected)
    assert (await b.expect("message"))["message"]["body"] == expected
