"""The WebSocket endpoint: authenticates, moves frames between the socket and the services.

The protocol is specified in docs/protocol.md; this module only parses, checks and routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime, timedelta
from typing import Any, TypeGuard

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from liaison.domain.chat import is_token
from liaison.domain.errors import Refused
from liaison.domain.text import LONG_NUMBER, fits, is_row_id, storable
from liaison.services.core import Core
from liaison.services.hub import encode
from liaison.store import repositories as repo
from liaison.store.db import UNAVAILABLE
from liaison.web.security import (
    SESSION_COOKIE,
    Viewer,
    core_of,
    origin_allowed,
    viewer_of,
)

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
CLOSE_NOT_AUTHENTICATED = 4001
CLOSE_BAD_ORIGIN = 4003
CLOSE_FLOOD = 4008
CLOSE_HELLO_TIMEOUT = 4011
CLOSE_UNSUPPORTED_VERSION = 4012
CLOSE_SLOW_CONSUMER = 1013
CLOSE_INTERNAL = 1011
TYPING_INTERVAL = timedelta(seconds=2)
HELLO_TIMEOUT = timedelta(seconds=10)
# Ids, sequence numbers and cursors are 64-bit integers in the store.


class FrameError(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class TokenBucket:
    """Refills `rate` tokens a second up to `burst`; each frame takes one."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


_CLOSE = object()


class SocketConnection:
    """One browser tab or client: a bounded outbox drained by a writer task."""

    def __init__(self, ws: WebSocket, person_id: int, session: str, outbox_size: int) -> None:
        self.ws = ws
        self.person_id = person_id
        self.session = session
        self.key = secrets.token_hex(8)
        self.topics: set[str] = set()
        self.named: set[int] = set()
        self.partners: set[int] = set()
        self.watching: set[int] = set()
        self.outbox: asyncio.Queue[object] = asyncio.Queue(maxsize=outbox_size)
        self.closed = False
        # Frames for this connection that happen while its welcome is being built wait here,
        # so welcome is always the first frame and nothing in between is lost (see hold()).
        self.early: list[str] | None = None

    def push(self, text: str) -> None:
        if self.closed:
            return
        if self.early is not None:
            if len(self.early) >= self.outbox.maxsize:
                self.close(CLOSE_SLOW_CONSUMER, "too slow: frames were not read in time")
                return
            self.early.append(text)
            return
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            # A reader this slow would make the server hold unbounded memory for it.
            self.close(CLOSE_SLOW_CONSUMER, "too slow: frames were not read in time")

    def hold(self) -> None:
        """From now until start(), frames wait behind the coming welcome."""
        self.early = []

    def start(self, welcome: str) -> None:
        """Sends welcome, then whatever arrived for this connection while it was built."""
        early, self.early = self.early or [], None
        self.push(welcome)
        for text in early:
            self.push(text)

    def close(self, code: int, reason: str, flush: bool = False) -> None:
        """Ends the connection; with `flush`, after the frames already queued (when they
        fit), else at once, dropping them."""
        if self.closed:
            return
        self.closed = True
        self.early = None
        if not flush or self.outbox.full():
            while not self.outbox.empty():
                self.outbox.get_nowait()
        self.outbox.put_nowait((_CLOSE, code, reason))

    async def write_loop(self) -> None:
        while True:
            item = await self.outbox.get()
            if isinstance(item, tuple) and item[0] is _CLOSE:
                with contextlib.suppress(Exception):
                    await self.ws.close(code=item[1], reason=item[2])
                return
            assert isinstance(item, str)
            try:
                await self.ws.send_text(item)
            except WebSocketDisconnect:
                return  # the client went away: the session ends by itself
            except Exception as e:
                # Never a silent connection: one that cannot be written to is closed.
                log.warning("closing a connection that could not be written to: %r", e)
                self.closed = False
                self.close(CLOSE_INTERNAL, "the server could not send a frame")


def _echoable(value: object) -> bool:
    """A client's `ref` or `id` is copied into replies only when it is an opaque token
    (a 64-bit integer, or text that ``is_token`` accepts): never free text, which could
    carry an identity code back out (docs/protocol.md, "Frames")."""
    if isinstance(value, int) and not isinstance(value, bool):
        return -(2**63) <= value < 2**63
    return is_token(value)


def _people(value: object, limit: int) -> set[int]:
    if not isinstance(value, list) or not all(_is_id(p) and p > 0 for p in value):
        raise FrameError("bad_field", "people must be a list of person ids")
    if len(value) > limit:
        raise FrameError("too_many", f"at most {limit} people can be watched at once")
    return set(value)


def _time(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise FrameError("bad_field", "a time must be ISO 8601 with a time zone")
    return parsed


def _field(frame: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in frame:
        raise FrameError("bad_field", f"field {name!r} is required")
    value = frame[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise FrameError("bad_field", f"field {name!r} has the wrong type")
    if kind is int and not _is_id(value):
        raise FrameError("bad_field", f"field {name!r} must be from 0 to 2^31-1")
    return value


def _is_id(value: object) -> TypeGuard[int]:
    return is_row_id(value)


class Session:
    """The state of one WebSocket between hello and close."""

    def __init__(self, core: Core, ws: WebSocket, viewer: Viewer) -> None:
        self.core = core
        self.ws = ws
        self.viewer = viewer
        self.conn = SocketConnection(
            ws, viewer.person_id, viewer.session, core.settings.outbox_size
        )
        self.bucket = TokenBucket(core.settings.rate_per_second, core.settings.rate_burst)
        self.rejected: list[float] = []
        # Frames accepted by the reader, waiting for the session; bounded by a burst.
        self.inbox: asyncio.Queue[MutableMapping[str, Any] | None] = asyncio.Queue(
            maxsize=core.settings.rate_burst
        )
        self.active = True
        self.last_presence_report: datetime | None = None
        self.last_typing: dict[int, datetime] = {}
        self.handlers: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]] = {
            "heartbeat": self.on_heartbeat,
            "send": self.on_send,
            "read": self.on_read,
            "typing": self.on_typing,
            "set_presence": self.on_set_presence,
            "sync": self.on_sync,
            "ring_sign_in": self.on_ring_sign_in,
            "ask": self.on_ask,
            "cancel": self.on_cancel,
            "accept": self.on_accept,
            "decline": self.on_decline,
            "close_consultation": self.on_close_consultation,
            "invite": self.on_invite,
            "callback_create": self.on_callback_create,
            "callback_update": self.on_callback_update,
            "load_subscribe": self.on_load_subscribe,
            "load_unsubscribe": self.on_load_unsubscribe,
            "watch": self.on_watch,
            "presence_sync": self.on_presence_sync,
            "rings_subscribe": self.on_rings_subscribe,
            "rings_unsubscribe": self.on_rings_unsubscribe,
            "ring_resume": self.on_ring_resume,
            "consultation_keep_open": self.on_consultation_keep_open,
            "consultation_note": self.on_consultation_note,
        }

    def reply(self, frame: dict[str, Any]) -> None:
        self.conn.push(encode(frame))

    def error(self, code: str, reason: str, request: dict[str, Any] | None = None) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "reason": reason}
        if request:
            for echo in ("ref", "id"):
                if _echoable(request.get(echo)):
                    frame[echo] = request[echo]
            if request.get("type") in self.handlers or request.get("type") == "hello":
                frame["request_type"] = request["type"]
        self.reply(frame)

    async def read_loop(self) -> None:
        """Takes frames off the socket as soon as they arrive, so that the rate limit is
        charged at arrival (a client is not punished for the server's own pauses), and
        hands the accepted ones to the session, in order. Ends with None on close."""
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if self.bucket.take():
                    try:
                        self.inbox.put_nowait(message)
                        continue
                    except asyncio.QueueFull:
                        pass  # more waiting than a burst: refused like a flood
                if not self._refused(message):
                    break
        finally:
            # Room for the end marker: the session stops reading at it.
            while self.inbox.full():
                self.inbox.get_nowait()
            self.inbox.put_nowait(None)

    def _refused(self, message: MutableMapping[str, Any]) -> bool:
        """A frame over the rate limit: dropped with an error naming it (its `ref`); a
        client that keeps flooding is closed. False when the connection is to close."""
        now = time.monotonic()
        self.rejected = [t for t in self.rejected if now - t < 10] + [now]
        if len(self.rejected) >= self.core.settings.flood_disconnect_after:
            # The rate_limited answers already queued go first: they say why.
            self.conn.close(CLOSE_FLOOD, "too many frames: flood protection", flush=True)
            return False
        request: dict[str, Any] | None = None
        text = message.get("text")
        if text is not None and len(text) <= self.core.settings.max_frame_bytes:
            with contextlib.suppress(ValueError, RecursionError):
                parsed = json.loads(text)
                request = parsed if isinstance(parsed, dict) else None
        self.error(
            "rate_limited",
            f"over {self.core.settings.rate_per_second:g} frames a second (bursts of "
            f"{self.core.settings.rate_burst}): this frame was dropped; send it again later",
            request,
        )
        return True

    async def receive_frame(self) -> dict[str, Any] | None:
        """The next well-formed frame; None after errors that were answered; raises on close.

        No read timeout here: a client that falls silent is closed when its presence report
        expires (4010), a dead TCP peer by the server's protocol pings."""
        message = await self.inbox.get()
        if message is None:
            raise WebSocketDisconnect(1000)
        text = message.get("text")
        if text is None:
            data = message.get("bytes") or b""
            size = len(data)
        else:
            size = len(text.encode())
        if size > self.core.settings.max_frame_bytes:
            self.error(
                "frame_too_large",
                f"frame is {size} bytes; the limit is {self.core.settings.max_frame_bytes}",
            )
            return None
        if text is None:
            self.error("bad_frame", "binary frames are not supported; send JSON text")
            return None
        try:
            frame = json.loads(text)
        except (ValueError, RecursionError):
            # RecursionError: brackets nested deeper than any frame needs.
            self.error("bad_json", "frame is not valid JSON")
            return None
        if not isinstance(frame, dict):
            self.error("bad_frame", "frame must be a JSON object")
            return None
        if "\\u" in text and not storable(frame):
            # Only a \u escape can bring a lone surrogate or a NUL into JSON text: text
            # that neither database stores and no socket can send.
            self.error("bad_text", "text must be valid Unicode without NUL characters", frame)
            return None
        if LONG_NUMBER.search(text) and not fits(frame):
            self.error("bad_field", "numbers must be 64-bit integers (-2^63 to 2^63-1)", frame)
            return None
        if not isinstance(frame.get("type"), str):
            self.error("bad_frame", "frame needs a string field 'type'", frame)
            return None
        return frame

    async def run(self) -> None:
        ended = self.core.sessions[self.conn.key] = asyncio.Event()
        try:
            await self._run()
        finally:
            del self.core.sessions[self.conn.key]
            ended.set()

    async def _run(self) -> None:
        writer = asyncio.create_task(self.conn.write_loop())
        reader = asyncio.create_task(self.read_loop())
        attached = False
        try:
            hello = await self.wait_hello()
            if hello is None:
                return
            if await viewer_of_token(self.core, self.ws) is None:
                # Logged out (or disabled) while the hello was on its way.
                self.conn.close(CLOSE_NOT_AUTHENTICATED, "not logged in")
                return
            self.conn.hold()
            self.core.hub.attach(self.conn)
            attached = True
            self.active = hello.get("active", True)
            await self.report_presence(force=True)
            await self.send_welcome(hello)
            while not self.conn.closed:
                frame = await self.receive_frame()
                if frame is not None and not self.conn.closed:
                    await self.dispatch(frame)
        except WebSocketDisconnect:
            pass
        finally:
            if attached:
                await self.on_load_unsubscribe({})
                await self.on_rings_unsubscribe({})
                self.core.hub.detach(self.conn)
                await self.core.presence.client_gone(self.viewer.person_id, self.conn.key)
            self.conn.close(1000, "")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, timeout=5)
            writer.cancel()
            reader.cancel()

    async def wait_hello(self) -> dict[str, Any] | None:
        core = self.core
        deadline = core.scheduler.call_at(
            core.clock.now() + HELLO_TIMEOUT,
            lambda: self.conn.close(CLOSE_HELLO_TIMEOUT, "no hello received"),
        )
        try:
            return await self._first_hello()
        finally:
            deadline.cancel()

    async def _first_hello(self) -> dict[str, Any] | None:
        while not self.conn.closed:
            frame = await self.receive_frame()
            if frame is None:
                continue
            if frame["type"] != "hello":
                self.error("hello_required", "the first frame must be hello", frame)
                continue
            version = frame.get("v", PROTOCOL_VERSION)
            if version != PROTOCOL_VERSION:
                self.conn.close(
                    CLOSE_UNSUPPORTED_VERSION, f"protocol version {PROTOCOL_VERSION} only"
                )
                return None
            if not isinstance(frame.get("active", True), bool):
                self.error("bad_field", "field 'active' must be true or false", frame)
                continue
            try:
                self.conn.named = _people(frame.get("watch", []), self.core.settings.max_watch)
                _time(frame.get("presence_since"))
            except FrameError as e:
                self.error(e.code, e.reason, frame)
                continue
            resume = frame.get("resume", {})
            if not isinstance(resume, dict) or not all(
                k.isascii() and k.isdigit() and _is_id(int(k)) and _is_id(v)
                for k, v in resume.items()
            ):
                self.error(
                    "bad_field", "resume must map conversation ids to sequence numbers", frame
                )
                continue
            return frame
        return None

    async def send_welcome(self, hello: dict[str, Any]) -> None:
        core, viewer, settings = self.core, self.viewer, self.core.settings
        cursors = {int(k): int(v) for k, v in hello.get("resume", {}).items()}
        missed, truncated = await core.chat.missed(viewer.person_id, cursors)
        async with core.db() as db:
            me = await repo.get_person(db, viewer.person_id)
        conversations = await core.chat.summaries(viewer.person_id)
        partners = {m["person_id"] for c in conversations for m in c["members"]}
        self.core.hub.add_partners(self.conn, partners)
        since = _time(hello.get("presence_since"))
        self.conn.start(
            encode(
                {
                    "type": "welcome",
                    "v": PROTOCOL_VERSION,
                    "me": {
                        "person": me,
                        "username": viewer.username,
                        "is_admin": viewer.is_admin,
                        "connection": self.conn.key,
                    },
                    "config": {
                        "heartbeat_interval": settings.heartbeat_interval_seconds,
                        "heartbeat_timeout": settings.heartbeat_timeout_seconds,
                        "idle_away_seconds": settings.idle_away_seconds,
                        "max_message_chars": settings.max_message_chars,
                        "max_frame_bytes": settings.max_frame_bytes,
                    },
                    "presence": core.presence.views(self.conn.watching, since),
                    "presence_at": core.clock.now().isoformat(),
                    "conversations": conversations,
                    "missed": missed,
                    "truncated": truncated,
                    **(await self.ring_snapshot()),
                }
            )
        )

    async def report_presence(self, force: bool = False) -> None:
        # Heartbeats refresh the shared tracker a few times per timeout, not on every frame.
        now = self.core.clock.now()
        interval = timedelta(seconds=self.core.settings.heartbeat_timeout_seconds / 3)
        last = self.last_presence_report
        if force or last is None or now - last >= interval:
            self.last_presence_report = now
            await self.core.presence.client_heard(self.viewer.person_id, self.conn.key, self.active)

    async def dispatch(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind != "heartbeat":
            # Any frame shows the client is alive; heartbeats also carry the idle state.
            await self.report_presence()
        handler = self.handlers.get(kind)
        if handler is None:
            if kind == "hello":
                self.error("bad_frame", "hello was already received", frame)
            else:
                self.error("unknown_type", "unknown frame type", frame)
            return
        try:
            reply = await handler(frame)
        except FrameError as e:
            self.error(e.code, e.reason, frame)
            return
        except Refused as e:
            self.error(e.code, e.reason, frame)
            return
        except UNAVAILABLE as e:
            log.warning("database unavailable for a %s frame: %s", kind, type(e).__name__)
            self.error("unavailable", "the service cannot reach its database; try again", frame)
            return
        except Exception:
            log.exception("frame handler failed for type %s", kind)
            self.error("internal", "the server failed to handle this frame", frame)
            return
        if reply is not None:
            if _echoable(frame.get("ref")):
                reply["ref"] = frame["ref"]
            self.reply(reply)

    # ------------------------------------------------------------ frame handlers

    async def on_heartbeat(self, frame: dict[str, Any]) -> dict[str, Any]:
        active = frame.get("active", self.active)
        if not isinstance(active, bool):
            raise FrameError("bad_field", "field 'active' must be true or false")
        changed = active != self.active
        self.active = active
        await self.report_presence(force=changed)
        return {"type": "heartbeat_ack"}

    async def on_send(self, frame: dict[str, Any]) -> dict[str, Any]:
        client_id = _field(frame, "id", str)
        message, duplicate = await self.core.chat.send(
            self.viewer.person_id,
            _field(frame, "conversation_id", int),
            client_id,
            frame.get("body"),
        )
        redacted = message.pop("redacted", 0)
        # `redacted` tells the sender how many identity codes became client references.
        return {
            "type": "ack",
            "id": client_id,
            "duplicate": duplicate,
            "redacted": redacted,
            "message": message,
        }

    async def on_read(self, frame: dict[str, Any]) -> None:
        await self.core.chat.mark_read(
            self.viewer.person_id, _field(frame, "conversation_id", int), _field(frame, "seq", int)
        )

    async def on_typing(self, frame: dict[str, Any]) -> None:
        conversation_id = _field(frame, "conversation_id", int)
        now = self.core.clock.now()
        last = self.last_typing.get(conversation_id)
        if last is not None and now - last < TYPING_INTERVAL:
            return
        self.last_typing[conversation_id] = now
        if len(self.last_typing) > 100:
            self.last_typing = {conversation_id: now}
        await self.core.chat.typing(self.viewer.person_id, conversation_id)

    async def on_watch(self, frame: dict[str, Any]) -> dict[str, Any]:
        named = _people(frame.get("people"), self.core.settings.max_watch)
        added = self.core.hub.watch(self.conn, named)
        return {
            "type": "presence_views",
            "presence": self.core.presence.views(added),
            "presence_at": self.core.clock.now().isoformat(),
        }

    async def on_presence_sync(self, frame: dict[str, Any]) -> dict[str, Any]:
        since = _time(frame.get("since"))
        if since is None:
            raise FrameError("bad_field", "field 'since' is required")
        return {
            "type": "presence_views",
            "presence": self.core.presence.views(self.conn.watching, since),
            "presence_at": self.core.clock.now().isoformat(),
        }

    async def on_set_presence(self, frame: dict[str, Any]) -> dict[str, Any]:
        changes = {k: v for k, v in frame.items() if k not in ("type", "ref")}
        view = await self.core.presence.update(self.viewer.person_id, changes)
        return {"type": "presence_set", "presence": view}

    async def on_sync(self, frame: dict[str, Any]) -> dict[str, Any]:
        conversation_id = _field(frame, "conversation_id", int)
        after = _field(frame, "after_seq", int)
        messages, truncated = await self.core.chat.missed(
            self.viewer.person_id, {conversation_id: after}
        )
        if not messages and not await self._is_member(conversation_id):
            raise FrameError("not_a_member", "you are not a member of that conversation")
        return {
            "type": "messages",
            "conversation_id": conversation_id,
            "messages": messages,
            "complete": conversation_id not in truncated,
        }

    # ------------------------------------------------------------ rings

    async def ring_snapshot(self) -> dict[str, Any]:
        """What a (re)connecting client needs to show rings, offers and its questions."""
        rings = self.core.rings
        person_id = self.viewer.person_id
        return {
            "rings": rings.rings_for(person_id),
            "ring_member": rings.member_state(person_id),
            "offers": rings.offers_for(person_id),
            "questions": rings.questions_of(person_id),
            "consultations": [
                c for c in await rings.consultations_of(person_id, 50) if c["state"] == "open"
            ],
            "callbacks": await rings.callbacks_for(person_id),
        }

    async def on_ring_sign_in(self, frame: dict[str, Any]) -> dict[str, Any]:
        rings, person_id = self.core.rings, self.viewer.person_id
        await rings.sign_in(person_id, frame.get("ring_id"), frame.get("signed_in"))
        return {
            "type": "rings",
            "rings": rings.rings_for(person_id),
            "ring_member": rings.member_state(person_id),
        }

    async def on_ask(self, frame: dict[str, Any]) -> dict[str, Any]:
        rings = self.core.rings
        args = (
            frame.get("question"),
            frame.get("client_code"),
            frame.get("urgency", "normal"),
            frame.get("legal_basis"),
        )
        if frame.get("named") is True:
            status = await rings.ask_named(self.viewer.person_id, *args)
        else:
            status = await rings.ask(self.viewer.person_id, frame.get("ring_id"), *args)
        return {"type": "question_status", "question": status}

    async def on_cancel(self, frame: dict[str, Any]) -> None:
        await self.core.rings.cancel(self.viewer.person_id, frame.get("question_id"))

    async def on_accept(self, frame: dict[str, Any]) -> dict[str, Any]:
        consultation = await self.core.rings.accept(self.viewer.person_id, frame.get("question_id"))
        return {"type": "accepted", "consultation": consultation}

    async def on_decline(self, frame: dict[str, Any]) -> None:
        await self.core.rings.decline(self.viewer.person_id, frame.get("question_id"))

    async def on_close_consultation(self, frame: dict[str, Any]) -> dict[str, Any]:
        record = await self.core.rings.close_consultation(
            self.viewer.person_id,
            frame.get("consultation_id"),
            frame.get("outcome"),
            frame.get("topic"),
            frame.get("legal_basis"),
        )
        return {"type": "consultation_closed", "consultation": record}

    async def on_invite(self, frame: dict[str, Any]) -> None:
        await self.core.rings.invite(
            self.viewer.person_id, frame.get("consultation_id"), frame.get("person_id")
        )

    async def on_callback_create(self, frame: dict[str, Any]) -> dict[str, Any]:
        callback = await self.core.rings.create_callback(
            self.viewer.person_id,
            owner_person_id=frame.get("owner_person_id"),
            owner_ring_id=frame.get("owner_ring_id"),
            question_id=frame.get("question_id"),
            note=frame.get("note", ""),
            client_code=frame.get("client_code"),
            due_minutes=frame.get("due_minutes", 60),
        )
        return {"type": "callback_created", "callback": callback}

    async def on_callback_update(self, frame: dict[str, Any]) -> None:
        await self.core.rings.update_callback(
            self.viewer.person_id, frame.get("callback_id"), frame.get("state")
        )

    async def on_load_subscribe(self, frame: dict[str, Any]) -> dict[str, Any]:
        viewer, load = self.viewer, self.core.load
        if "load" not in self.conn.topics:
            self.conn.topics.add("load")
            load.subscribe(viewer.person_id, viewer.is_admin)
        return {"type": "load", **(await load.snapshot(viewer.person_id, viewer.is_admin))}

    async def on_load_unsubscribe(self, frame: dict[str, Any]) -> None:
        if "load" in self.conn.topics:
            self.conn.topics.discard("load")
            self.core.load.unsubscribe(self.viewer.person_id)

    # Live ring counts (docs/protocol.md "Ring counts"): the subscription, and the frames
    # about one's own standing in routing and consultations.

    async def on_rings_subscribe(self, frame: dict[str, Any]) -> dict[str, Any]:
        rings = self.core.rings
        if "rings" not in self.conn.topics:
            self.conn.topics.add("rings")
            rings.subscribe_counts()
        return {
            "type": "rings",
            "rings": rings.rings_for(self.viewer.person_id),
            "ring_member": rings.member_state(self.viewer.person_id),
        }

    async def on_rings_unsubscribe(self, frame: dict[str, Any]) -> None:
        if "rings" in self.conn.topics:
            self.conn.topics.discard("rings")
            self.core.rings.unsubscribe_counts()

    async def on_ring_resume(self, frame: dict[str, Any]) -> dict[str, Any]:
        return {"type": "ring_member", **(await self.core.rings.resume(self.viewer.person_id))}

    async def on_consultation_keep_open(self, frame: dict[str, Any]) -> None:
        await self.core.rings.keep_open(self.viewer.person_id, frame.get("consultation_id"))

    async def on_consultation_note(self, frame: dict[str, Any]) -> None:
        await self.core.rings.add_note(
            self.viewer.person_id, frame.get("consultation_id"), frame.get("note")
        )

    async def _is_member(self, conversation_id: int) -> bool:
        async with self.core.db() as db:
            return await repo.is_member(db, conversation_id, self.viewer.person_id)


async def viewer_of_token(core: Core, ws: WebSocket) -> object | None:
    """The session's account now, uncached: it may have ended since the handshake."""
    return await core.accounts.account_for_token(ws.cookies.get(SESSION_COOKIE))


async def websocket_endpoint(ws: WebSocket) -> None:
    core = core_of(ws)
    await ws.accept()
    # Refusals after accept, with a close code, so browsers (which cannot read a refused
    # handshake's status) can tell "log in again" from other failures.
    if not origin_allowed(ws):
        await ws.close(code=CLOSE_BAD_ORIGIN, reason="origin not allowed")
        return
    viewer = await viewer_of(ws)
    if viewer is None:
        await ws.close(code=CLOSE_NOT_AUTHENTICATED, reason="not logged in")
        return
    session = Session(core, ws, viewer)
    await session.run()
    if ws.application_state != WebSocketState.DISCONNECTED:
        with contextlib.suppress(Exception):
            await ws.close()
