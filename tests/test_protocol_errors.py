"""Bad input of every kind gets an error frame with a code and a reason; the connection stays up."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from tests.conftest import Server, Socket
from tests.test_rings import valid_code


async def still_up(sock: Socket) -> None:
    await sock.send({"type": "heartbeat"})
    await sock.expect("heartbeat_ack")


async def conversation_of(server: Server) -> tuple[Socket, int]:
    aino = await server.client("aino")
    response = await aino.api(
        "POST", "/api/conversations", json={"person_id": server.people["bertil"]}
    )
    return await aino.socket(), int(response.json()["id"])


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json at all", "bad_json"),
        ("[1, 2, 3]", "bad_frame"),
        ('"just a string"', "bad_frame"),
        ("{}", "bad_frame"),
        ('{"type": 5}', "bad_frame"),
        ('{"type": "launch_rockets"}', "unknown_type"),
        ('{"type": "hello", "v": 1}', "bad_frame"),
        ('{"type": "send", "conversation_id": 1, "body": "x"}', "bad_field"),
        ('{"type": "send", "id": "a", "body": "x"}', "bad_field"),
        ('{"type": "send", "id": 5, "conversation_id": 1, "body": "x"}', "bad_field"),
        ('{"type": "send", "id": "a", "conversation_id": "1", "body": "x"}', "bad_field"),
        ('{"type": "send", "id": "a", "conversation_id": true, "body": "x"}', "bad_field"),
        ('{"type": "send", "id": "", "conversation_id": 1, "body": "x"}', "bad_field"),
        ('{"type": "read", "conversation_id": 1}', "bad_field"),
        ('{"type": "read", "conversation_id": 1, "seq": -1}', "bad_field"),
        ('{"type": "typing"}', "bad_field"),
        ('{"type": "sync", "conversation_id": 1}', "bad_field"),
        ('{"type": "heartbeat", "active": "yes"}', "bad_field"),
    ],
)
async def test_malformed_frames(shared_server: Server, frame: str, code: str) -> None:
    server = shared_server  # nothing here changes what later tests see
    sock = await (await server.client("aino")).socket()
    await sock.send(frame)
    error = await sock.expect("error")
    assert error["code"] == code, error
    assert error["reason"]
    await still_up(sock)


async def test_bodies_that_are_not_messages(shared_server: Server) -> None:
    server = shared_server  # nothing here changes what later tests see
    sock, conversation_id = await conversation_of(server)
    for index, (body, code) in enumerate(
        [
            (None, "bad_field"),
            (5, "bad_field"),
            ("   ", "empty_message"),
            ("\x01\x02", "empty_message"),
            ("\x00", "bad_text"),  # no text anywhere may hold a NUL
            ("\ud800", "bad_text"),  # nor a lone surrogate
        ]
    ):
        await sock.send(
            {
                "type": "send",
                "id": f"b{index}",
                "conversation_id": conversation_id,
                "body": body,
            }
        )
        error = await sock.expect("error")
        assert error["code"] == code
        assert error["request_type"] == "send"
    await still_up(sock)


async def test_errors_echo_the_request_reference(shared_server: Server) -> None:
    server = shared_server  # nothing here changes what later tests see
    sock = await (await server.client("aino")).socket()
    await sock.send({"type": "nope", "ref": "r-17"})
    error = await sock.expect("error")
    # An unknown type is user input: neither the reason nor request_type repeats it.
    assert error["ref"] == "r-17" and "request_type" not in error
    assert "nope" not in error["reason"]
    await sock.send({"type": "read", "ref": 2**40, "id": "x_1"})
    error = await sock.expect("error")
    assert (error["ref"], error["id"], error["request_type"]) == (2**40, "x_1", "read")


async def test_only_opaque_tokens_are_echoed(server: Server) -> None:
    """A `ref` or `id` that is free text (or too big a number) is not copied back."""
    sock = await (await server.client("aino")).socket()
    for ref in ("two words", "ä", "x" * 65, 2**63, valid_code()[:-1], f"id{valid_code()}"):
        await sock.send({"type": "heartbeat", "ref": ref})
        # (A number over 64 bits is refused outright.)
        reply = await sock.expect("error" if ref == 2**63 else "heartbeat_ack")
        assert "ref" not in reply
        await sock.send({"type": "read", "ref": ref, "id": ref})
        error = await sock.expect("error")
        assert "ref" not in error and "id" not in error


async def test_not_allowed_for_this_user(server: Server) -> None:
    _, conversation_id = await conversation_of(server)
    outsider = await (await server.client("cecilia")).socket()
    await outsider.send(
        {"type": "send", "id": "x", "conversation_id": conversation_id, "body": "hi"}
    )
    assert (await outsider.expect("error"))["code"] == "not_a_member"
    await outsider.send({"type": "read", "conversation_id": conversation_id, "seq": 1})
    assert (await outsider.expect("error"))["code"] == "not_a_member"
    await outsider.send({"type": "send", "id": "y", "conversation_id": 424242, "body": "hi"})
    assert (await outsider.expect("error"))["code"] == "not_a_member"
    await still_up(outsider)


async def test_a_frame_over_the_size_limit(server_factory: object) -> None:
    async with server_factory(max_frame_bytes=2048) as srv:  # type: ignore[operator]
        sock = await (await srv.client("aino")).socket()
        await sock.send(json.dumps({"type": "heartbeat", "pad": "x" * 5000}))
        error = await sock.expect("error")
        assert error["code"] == "frame_too_large" and "2048" in error["reason"]
        await still_up(sock)


async def test_binary_frames_are_refused(shared_server: Server) -> None:
    server = shared_server  # nothing here changes what later tests see
    sock = await (await server.client("aino")).socket()
    await sock.send(b"\x00\x01binary")
    assert (await sock.expect("error"))["code"] == "bad_frame"
    await still_up(sock)


async def test_frames_before_hello_are_refused_until_hello(shared_server: Server) -> None:
    server = shared_server  # nothing here changes what later tests see
    aino = await server.client("aino")
    sock = await aino.socket(hello=False)
    await sock.send({"type": "heartbeat"})
    assert (await sock.expect("error"))["code"] == "hello_required"
    await sock.send({"type": "hello", "v": 1, "resume": {"abc": 1}})
    assert (await sock.expect("error"))["code"] == "bad_field"
    await sock.send({"type": "hello", "v": 1})
    welcome = await sock.expect("welcome")
    assert welcome["v"] == 1


async def test_unsupported_protocol_version_closes(shared_server: Server) -> None:
    server = shared_server  # nothing here changes what later tests see
    sock = await (await server.client("aino")).socket(hello=False)
    await sock.send({"type": "hello", "v": 99})
    assert await sock.closed() == 4012


async def test_a_flooding_client_is_throttled_then_disconnected(server_factory: object) -> None:
    async with server_factory(rate_per_second=5.0, rate_burst=10, flood_disconnect_after=20) as srv:  # type: ignore[operator]
        sock = await (await srv.client("aino")).socket()
        for _ in range(100):
            try:
                await sock.send({"type": "heartbeat"})
            except websockets.ConnectionClosed:
                break
        assert await sock.closed() == 4008
        # rate_limited answers came first
        assert any(f.get("code") == "rate_limited" for f in sock.seen)


async def test_without_a_session_the_socket_is_closed_4001(shared_server: Server) -> None:
    server = shared_server  # nothing here changes what later tests see
    ws = await websockets.connect(server.ws_url, origin=websockets.Origin(server.url))
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 4001


async def test_a_foreign_origin_is_closed_4003(shared_server: Server) -> None:
    server = shared_server  # nothing here changes what later tests see
    aino = await server.client("aino")
    ws = await websockets.connect(
        server.ws_url,
        additional_headers={"Cookie": aino.cookie_header()},
        origin=websockets.Origin("http://evil.example"),
    )
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 4003
    ws = await websockets.connect(
        server.ws_url, additional_headers={"Cookie": aino.cookie_header()}
    )
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 4003


async def test_disabling_an_account_closes_its_connections(server: Server) -> None:
    bertil = await server.client("bertil")
    tabs = [await bertil.socket(), await bertil.socket()]
    admin = await server.client("admin")
    accounts = (await admin.api("GET", "/api/admin/accounts")).json()["accounts"]
    account_id = next(a["id"] for a in accounts if a["username"] == "bertil")
    response = await admin.api(
        "PATCH", f"/api/admin/accounts/{account_id}", json={"disabled": True}
    )
    assert response.status_code == 200
    for tab in tabs:
        assert await tab.closed() == 4009
    # The session is gone too, and a new login is refused.
    assert (await bertil.api("GET", "/api/me")).status_code == 401
    again = await server.client("bertil")
    assert (await again.api("GET", "/api/me")).status_code == 401


async def test_welcome_is_always_the_first_frame(server: Server) -> None:
    """Frames produced while a welcome is built wait behind it."""
    bertil = await (await server.client("bertil")).socket()
    bertil.mute()  # read by churn() alone
    aino = await server.client("aino")
    done = False

    async def churn() -> None:
        statuses = ["away", "available"]
        i = 0
        while not done:
            await bertil.send({"type": "set_presence", "status": statuses[i % 2]})
            await bertil.read_until("presence_set")
            i += 1

    async def hellos() -> None:
        nonlocal done
        for _ in range(15):
            sock = await aino.socket(hello=False)
            await sock.send({"type": "hello", "v": 1})
            first = await sock.read_until("welcome")
            assert sock.seen[0] is first, sock.seen[0]
            await sock.close()
        done = True

    await asyncio.gather(churn(), hellos())


async def test_hello_with_a_bad_active_flag_is_refused(shared_server: Server) -> None:
    server = shared_server  # nothing here changes what later tests see
    sock = await (await server.client("aino")).socket(hello=False)
    await sock.send({"type": "hello", "v": 1, "active": "no"})
    assert (await sock.expect("error"))["code"] == "bad_field"


async def test_a_client_id_reused_for_another_conversation_is_refused(server: Server) -> None:
    sock, conversation_id = await conversation_of(server)
    aino = await server.client("aino")
    other = await aino.api(
        "POST", "/api/conversations", json={"person_id": server.people["cecilia"]}
    )
    await sock.send({"type": "send", "id": "one", "conversation_id": conversation_id, "body": "a"})
    await sock.expect("ack", id="one")
    await sock.send(
        {"type": "send", "id": "one", "conversation_id": other.json()["id"], "body": "b"}
    )
    assert (await sock.expect("error"))["code"] == "id_reused"


async def test_logging_out_closes_that_sessions_sockets_only(server: Server) -> None:
    first, second = await server.client("bertil"), await server.client("bertil")
    a, b = await first.socket(), await second.socket()
    response = await first.http.post("/logout", data={"csrf_token": first.csrf})
    assert response.status_code == 303
    assert await a.closed() == 4001
    await still_up(b)


async def test_frames_other_than_heartbeats_keep_presence_alive(server: Server) -> None:
    """A client busy with other frames sends no heartbeats for 100 s (over three heartbeat
    timeouts) and stays online."""
    watcher = await (await server.client("aino")).socket(watch=[server.people["bertil"]])
    busy = await (await server.client("bertil")).socket()
    busy.mute()  # no settle heartbeats: only the frames below
    await watcher.expect("presence", person_id=server.people["bertil"], status="available")
    for _ in range(10):
        await busy.send({"type": "sync", "conversation_id": 999, "after_seq": 0})
        await busy.read_until("error")
        await server.advance(10)
    await watcher.no_frame("presence", person_id=server.people["bertil"], status="offline")
    await still_up(busy)


async def test_the_rate_limit_is_charged_when_frames_arrive(
    server_factory: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the server is busy with one frame, the next ones are counted as they arrive:
    a burst over the limit is refused at once (each error naming its frame), and frames
    within it are all handled once the server is free."""
    async with server_factory(rate_per_second=0.001, rate_burst=5) as srv:  # type: ignore[operator]
        sock = await (await srv.client("aino")).socket()
        sock.mute()  # read by this test alone: settling would wait behind the stall
        release = asyncio.Event()

        async def slow_typing(*args: object) -> None:
            await release.wait()

        monkeypatch.setattr(srv.core.chat, "typing", slow_typing)
        await sock.send({"type": "typing", "conversation_id": 1, "ref": "stall"})
        for n in range(8):
            await sock.send({"type": "heartbeat", "ref": f"h{n}"})
        # The welcome's frame and the stalled one used two tokens: three more heartbeats
        # fit, the other five are refused while the server is still stalled.
        refused = [(await sock.read_until("error")) for _ in range(5)]
        assert {e["code"] for e in refused} == {"rate_limited"}
        assert [e["ref"] for e in refused] == [f"h{n}" for n in range(3, 8)]
        release.set()
        acks = [(await sock.read_until("heartbeat_ack"))["ref"] for _ in range(3)]
        assert acks == ["h0", "h1", "h2"]


async def test_a_connection_that_cannot_be_written_to_is_closed(server: Server) -> None:
    sock = await (await server.client("aino")).socket()
    (conn,) = server.core.hub.connections_of(server.people["aino"])

    async def broken(text: str) -> None:
        raise RuntimeError("the transport failed")

    conn.ws.send_text = broken  # type: ignore[attr-defined]
    conn.push('{"type":"heartbeat_ack"}')
    assert await sock.closed() == 1011


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('{"type":"heartbeat","ref":"\\ud800"}', "bad_text"),
        ('{"type":"heartbeat","x":"a\\u0000b"}', "bad_text"),
        ('{"type":"heartbeat","\\udfff":1}', "bad_text"),
        ("[" * 60000, "bad_json"),
        (
            '{"type":"send","id":"n1","conversation_id":18446744073709551616,"body":"x"}',
            "bad_field",
        ),
        ('{"type":"read","conversation_id":9223372036854775807,"seq":-1}', "bad_field"),
        ('{"type":"watch","people":[9223372036854775808]}', "bad_field"),
        ('{"type":"invite","consultation_id":1,"person_id":-9223372036854775809}', "bad_field"),
    ],
)
async def test_text_and_numbers_the_store_cannot_hold_are_refused(
    shared_server: Server, frame: str, code: str
) -> None:
    server = shared_server  # nothing here changes what later tests see
    sock = await (await server.client("aino")).socket()
    await sock.send(frame)
    assert (await sock.expect("error"))["code"] == code
    await still_up(sock)


@pytest.mark.parametrize(
    "resume", [{"²": 1}, {"1": 2**63}, {str(2**63): 1}, {"1": -1}, {"1": True}]
)
async def test_a_hello_with_a_resume_the_store_cannot_hold_is_refused(
    shared_server: Server, resume: dict[str, object]
) -> None:
    server = shared_server  # nothing here changes what later tests see
    sock = await (await server.client("aino")).socket(hello=False)
    await sock.send({"type": "hello", "v": 1, "resume": resume})
    assert (await sock.expect("error"))["code"] == "bad_field"
    await sock.send({"type": "hello", "v": 1})
    await sock.expect("welcome")


@pytest.mark.parametrize(
    "tag", sorted(__import__("liaison.protocol.client").protocol.client.BY_TAG)
)
async def test_every_frame_type_refuses_an_unknown_field_the_same_way(
    shared_server: Server, tag: str
) -> None:
    """No frame ignores a field it does not know (close_consultation once ignored `note`)."""
    sock = await (await shared_server.client("aino")).socket()
    await sock.send({"type": tag, "ref": "u-1", "surplus": 1})
    error = await sock.expect("error")
    assert (error["code"], error["ref"]) == ("bad_field", "u-1"), error
    if tag != "hello":
        assert error["request_type"] == tag
        assert "surplus" in error["reason"]
    await still_up(sock)


async def test_close_consultation_refuses_a_note(shared_server: Server) -> None:
    sock = await (await shared_server.client("aino")).socket()
    await sock.send(
        {
            "type": "close_consultation",
            "consultation_id": 1,
            "outcome": "answered",
            "note": "x",
            "ref": 9,
        }
    )
    error = await sock.expect("error")
    assert (error["code"], error["ref"], error["request_type"]) == (
        "bad_field",
        9,
        "close_consultation",
    )


async def test_refusals_never_quote_the_input(shared_server: Server) -> None:
    """An unknown field's name, a wrong enum value or a bad token could hold an identity
    code: the reason names the model's field and rule only."""
    code = valid_code()
    sock = await (await shared_server.client("aino")).socket()
    for frame in [
        {"type": "heartbeat", f"x{code}": 1},
        {"type": "close_consultation", "consultation_id": 1, "outcome": code},
        {"type": "callback_update", "callback_id": 1, "state": f"done {code}"},
        {"type": "send", "id": f"a{code}", "conversation_id": 1, "body": "x"},
        {"type": "ask", "question": "q", "urgency": code},
    ]:
        await sock.send({**frame, "ref": "r1"})
        error = await sock.expect("error")
        assert error["code"] == "bad_field" and error["ref"] == "r1", error
        assert code not in error["reason"] and code[:6] not in error["reason"], error
    await still_up(sock)


async def test_a_wrong_enum_value_lists_the_allowed_ones(shared_server: Server) -> None:
    sock = await (await shared_server.client("aino")).socket()
    await sock.send({"type": "callback_update", "callback_id": 1, "state": "open"})
    error = await sock.expect("error")
    assert error["code"] == "bad_field"
    assert "claimed, done, could_not_reach" in error["reason"]


@pytest.mark.parametrize("value", [2**31, -1, 1.5, "1", True, None])
async def test_ids_are_postgresql_integers(shared_server: Server, value: object) -> None:
    sock = await (await shared_server.client("aino")).socket()
    await sock.send({"type": "typing", "conversation_id": value, "ref": 3})
    error = await sock.expect("error")
    assert (error["code"], error["ref"]) == ("bad_field", 3)
    assert "conversation_id" in error["reason"]


async def test_a_frame_too_large_names_its_ref_when_it_comes_first(
    server_factory: object,
) -> None:
    async with server_factory(max_frame_bytes=2048) as srv:  # type: ignore[operator]
        sock = await (await srv.client("aino")).socket()
        await sock.send(json.dumps({"ref": "big-1", "type": "heartbeat", "pad": "x" * 5000}))
        error = await sock.expect("error")
        assert (error["code"], error["ref"]) == ("frame_too_large", "big-1")
        await sock.send(json.dumps({"type": "heartbeat", "pad": "x" * 5000, "ref": "late"}))
        error = await sock.expect("error")
        assert error["code"] == "frame_too_large" and "ref" not in error


async def test_rate_limited_errors_carry_the_ref(server_factory: object) -> None:
    async with server_factory(rate_per_second=1.0, rate_burst=2, flood_disconnect_after=50) as srv:  # type: ignore[operator]
        sock = await (await srv.client("aino")).socket()
        for index in range(6):
            await sock.send({"type": "heartbeat", "ref": f"h{index}"})
        limited = [
            f for f in [await sock.expect("error") for _ in range(3)] if f["code"] == "rate_limited"
        ]
        assert limited and all(f["ref"].startswith("h") for f in limited)
