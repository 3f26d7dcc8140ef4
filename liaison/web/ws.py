"""The WebSocket endpoint: authenticates, moves frames between the socket and the services.

The protocol is specified in docs/protocol.md; this module only parses, checks and routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime, timedelta
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from liaison.domain.errors import Refused
from liaison.domain.vocabulary import ConsultationState, ErrorCode
from liaison.protocol import client, server
from liaison.protocol.decode import FrameRefused, decode, echo_of, echoable, peek
from liaison.protocol.reference import CloseCode
from liaison.protocol.server import encode
from liaison.services.core import Core
from liaison.services.errors import UNAVAILABLE
from liaison.web.auth import CLOSE_NOT_AUTHENTICATED, requires_socket
from liaison.web.security import SESSION_COOKIE, Viewer, core_of

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
# Not logged in (4001) and a foreign Origin (4003): liaison/web/auth.py.
CLOSE_FLOOD = CloseCode.FLOOD
CLOSE_HELLO_TIMEOUT = CloseCode.HELLO_TIMEOUT
CLOSE_UNSUPPORTED_VERSION = CloseCode.UNSUPPORTED_VERSION
CLOSE_SLOW_CONSUMER = CloseCode.SLOW_CONSUMER
CLOSE_INTERNAL = CloseCode.INTERNAL
TYPING_INTERVAL = timedelta(seconds=2)
HELLO_TIMEOUT = timedelta(seconds=10)
# A frame too large to parse may still name itself first: {"ref": ..., ...}.
_LEADING_REF = re.compile(r'\s*\{\s*"ref"\s*:\s*(-?[0-9]{1,19}|"[A-Za-z0-9_-]{1,64}")\s*[,}]')
Reply = server.ServerFrame | None


def leading_ref(text: str) -> int | str | None:
    """The `ref` of a frame that is not parsed (too large), when it is its first field."""
    m = _LEADING_REF.match(text[:200])
    if m is None:
        return None
    value: int | str = int(m[1]) if m[1][0] != '"' else m[1][1:-1]
    return value if echoable(value) else None


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


def _people(people: list[int], limit: int) -> set[int]:
    if len(people) > limit:
        raise FrameError("too_many", f"at most {limit} people can be watched at once")
    return set(people)


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
        self.welcomed = False
        self.last_presence_report: datetime | None = None
        self.last_typing: dict[int, datetime] = {}
        # One handler per client frame type; the frame arrives decoded and checked.
        self.handlers: dict[type[client.ClientFrame], Callable[[Any], Awaitable[Reply]]] = {
            client.Heartbeat: self.on_heartbeat,
            client.Send: self.on_send,
            client.Read: self.on_read,
            client.Typing: self.on_typing,
            client.SetPresence: self.on_set_presence,
            client.Sync: self.on_sync,
            client.RingSignIn: self.on_ring_sign_in,
            client.Ask: self.on_ask,
            client.Cancel: self.on_cancel,
            client.Accept: self.on_accept,
            client.Decline: self.on_decline,
            client.CloseConsultation: self.on_close_consultation,
            client.Invite: self.on_invite,
            client.CallbackCreate: self.on_callback_create,
            client.CallbackUpdateFrame: self.on_callback_update,
            client.LoadSubscribe: self.on_load_subscribe,
            client.LoadUnsubscribe: self.on_load_unsubscribe,
            client.Watch: self.on_watch,
            client.PresenceSync: self.on_presence_sync,
            client.RingsSubscribe: self.on_rings_subscribe,
            client.RingsUnsubscribe: self.on_rings_unsubscribe,
            client.RingResume: self.on_ring_resume,
            client.ConsultationKeepOpen: self.on_consultation_keep_open,
            client.ConsultationNote: self.on_consultation_note,
        }

    def reply(self, frame: server.ServerFrame) -> None:
        self.conn.push(encode(frame))

    def error(self, code: str, reason: str, echo: dict[str, Any] | None = None) -> None:
        """An error frame; `echo` holds what it may copy of the refused frame (echo_of)."""
        self.reply(server.Error(code=ErrorCode(code), reason=reason, **(echo or {})))

    def refuse(self, code: str, reason: str, frame: client.ClientFrame) -> None:
        """An error about a decoded frame: its ref (and a send's id) when they are tokens."""
        echo: dict[str, Any] = {"request_type": frame.__struct_config__.tag}
        if echoable(frame.ref):
            echo["ref"] = frame.ref
        if isinstance(frame, client.Send):
            echo["id"] = frame.id
        self.error(code, reason, echo)

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
        text = message.get("text")
        request = None
        if text is not None and len(text) <= self.core.settings.max_frame_bytes:
            request = peek(text)
        self.error(
            "rate_limited",
            f"over {self.core.settings.rate_per_second:g} frames a second (bursts of "
            f"{self.core.settings.rate_burst}): this frame was dropped; send it again later",
            echo_of(request),
        )
        return True

    async def receive_frame(self) -> client.ClientFrame | None:
        """The next frame, decoded and checked; None after errors that were answered; raises
        on close.

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
            # The ref is read from the frame's start, without parsing what is too large.
            self.error(
                "frame_too_large",
                f"frame is {size} bytes; the limit is {self.core.settings.max_frame_bytes}",
                {"ref": ref} if text is not None and (ref := leading_ref(text)) else None,
            )
            return None
        if text is None:
            self.error("bad_frame", "binary frames are not supported; send JSON text")
            return None
        try:
            return decode(text)
        except FrameRefused as e:
            request = e.request
            if not self.welcomed and (request is None or request.get("type") != "hello"):
                # Before hello only a hello is read: anything else gets the same answer.
                if e.code not in (ErrorCode.BAD_JSON, ErrorCode.BAD_TEXT, ErrorCode.BAD_FRAME):
                    self.error("hello_required", "the first frame must be hello", echo_of(request))
                    return None
            self.error(e.code, e.reason, echo_of(request))
            return None

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
            await self.core.hub.attach(self.conn)
            attached = True
            self.active = hello.active
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
                await self.on_load_unsubscribe(client.LoadUnsubscribe())
                await self.on_rings_unsubscribe(client.RingsUnsubscribe())
                await self.core.hub.detach(self.conn)
                await self.core.presence.client_gone(self.viewer.person_id, self.conn.key)
            self.conn.close(1000, "")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, timeout=5)
            writer.cancel()
            reader.cancel()

    async def wait_hello(self) -> client.Hello | None:
        core = self.core
        deadline = core.scheduler.call_at(
            core.clock.now() + HELLO_TIMEOUT,
            lambda: self.conn.close(CLOSE_HELLO_TIMEOUT, "no hello received"),
        )
        try:
            return await self._first_hello()
        finally:
            deadline.cancel()

    async def _first_hello(self) -> client.Hello | None:
        while not self.conn.closed:
            frame = await self.receive_frame()
            if frame is None:
                continue
            if not isinstance(frame, client.Hello):
                self.refuse("hello_required", "the first frame must be hello", frame)
                continue
            if frame.v != PROTOCOL_VERSION:
                self.conn.close(
                    CLOSE_UNSUPPORTED_VERSION, f"protocol version {PROTOCOL_VERSION} only"
                )
                return None
            try:
                self.conn.named = _people(frame.watch, self.core.settings.max_watch)
            except FrameError as e:
                self.refuse(e.code, e.reason, frame)
                continue
            self.welcomed = True
            return frame
        return None

    async def send_welcome(self, hello: client.Hello) -> None:
        core, viewer, settings = self.core, self.viewer, self.core.settings
        cursors = {int(k): v for k, v in hello.resume.items()}
        missed, truncated = await core.chat.missed(viewer.person_id, cursors)
        me = await core.directory.person(viewer.person_id)
        assert me is not None, "a signed-in account has a directory entry"
        conversations = await core.chat.summaries(viewer.person_id)
        partners = {m.person_id for c in conversations for m in c.members}
        self.core.hub.add_partners(self.conn, partners)
        await core.presence.complete(self.conn.watching)
        self.conn.start(
            encode(
                server.Welcome(
                    v=PROTOCOL_VERSION,
                    me=server.WelcomeMe(
                        person=me,
                        username=viewer.username,
                        is_admin=viewer.is_admin,
                        connection=self.conn.key,
                    ),
                    config=server.ClientConfig(
                        heartbeat_interval=settings.heartbeat_interval_seconds,
                        heartbeat_timeout=settings.heartbeat_timeout_seconds,
                        idle_away_seconds=settings.idle_away_seconds,
                        max_message_chars=settings.max_message_chars,
                        max_frame_bytes=settings.max_frame_bytes,
                    ),
                    presence=core.presence.views(self.conn.watching, hello.presence_since),
                    presence_at=core.clock.now().isoformat(),
                    conversations=conversations,
                    missed=missed,
                    truncated=truncated,
                    **(await self.ring_snapshot()),
                )
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

    async def dispatch(self, frame: client.ClientFrame) -> None:
        kind = frame.__struct_config__.tag
        if not isinstance(frame, client.Heartbeat):
            # Any frame shows the client is alive; heartbeats also carry the idle state.
            await self.report_presence()
        handler = self.handlers.get(type(frame))
        if handler is None:
            self.refuse("bad_frame", "hello was already received", frame)
            return
        try:
            reply = await handler(frame)
        except FrameError as e:
            self.refuse(e.code, e.reason, frame)
            return
        except Refused as e:
            self.refuse(e.code, e.reason, frame)
            return
        except UNAVAILABLE as e:
            log.warning("database unavailable for a %s frame: %s", kind, type(e).__name__)
            self.refuse("unavailable", "the service cannot reach its database; try again", frame)
            return
        except Exception:
            log.exception("frame handler failed for type %s", kind)
            self.refuse("internal", "the server failed to handle this frame", frame)
            return
        if reply is not None:
            if echoable(frame.ref):
                reply.ref = frame.ref  # type: ignore[assignment]
            self.reply(reply)

    # ------------------------------------------------------------ frame handlers

    async def on_heartbeat(self, frame: client.Heartbeat) -> server.HeartbeatAck:
        active = self.active if frame.active is None else frame.active
        changed = active != self.active
        self.active = active
        await self.report_presence(force=changed)
        return server.HeartbeatAck()

    async def on_send(self, frame: client.Send) -> server.Ack:
        message, duplicate, redacted = await self.core.chat.send(
            self.viewer.person_id, frame.conversation_id, frame.id, frame.body
        )
        # `redacted` tells the sender how many identity codes became client references.
        return server.Ack(id=frame.id, duplicate=duplicate, redacted=redacted, message=message)

    async def on_read(self, frame: client.Read) -> None:
        await self.core.chat.mark_read(self.viewer.person_id, frame.conversation_id, frame.seq)

    async def on_typing(self, frame: client.Typing) -> None:
        conversation_id = frame.conversation_id
        now = self.core.clock.now()
        last = self.last_typing.get(conversation_id)
        if last is not None and now - last < TYPING_INTERVAL:
            return
        self.last_typing[conversation_id] = now
        if len(self.last_typing) > 100:
            self.last_typing = {conversation_id: now}
        await self.core.chat.typing(self.viewer.person_id, conversation_id)

    async def on_watch(self, frame: client.Watch) -> server.PresenceViews:
        named = _people(frame.people, self.core.settings.max_watch)
        added = self.core.hub.watch(self.conn, named)
        await self.core.presence.complete(added)
        return server.PresenceViews(
            presence=self.core.presence.views(added),
            presence_at=self.core.clock.now().isoformat(),
        )

    async def on_presence_sync(self, frame: client.PresenceSync) -> server.PresenceViews:
        return server.PresenceViews(
            presence=self.core.presence.views(self.conn.watching, frame.since),
            presence_at=self.core.clock.now().isoformat(),
        )

    async def on_set_presence(self, frame: client.SetPresence) -> server.PresenceSet:
        view = await self.core.presence.update(self.viewer.person_id, frame)
        return server.PresenceSet(presence=view)

    async def on_sync(self, frame: client.Sync) -> server.Messages:
        conversation_id = frame.conversation_id
        messages, truncated = await self.core.chat.missed(
            self.viewer.person_id, {conversation_id: frame.after_seq}
        )
        if not messages and not await self._is_member(conversation_id):
            raise FrameError("not_a_member", "you are not a member of that conversation")
        return server.Messages(
            conversation_id=conversation_id,
            messages=messages,
            complete=conversation_id not in truncated,
        )

    # ------------------------------------------------------------ rings

    async def ring_snapshot(self) -> dict[str, Any]:
        """What a (re)connecting client needs to show rings, offers and its questions: the
        ring fields of `welcome`."""
        rings = self.core.rings
        person_id = self.viewer.person_id
        return {
            "rings": rings.rings_for(person_id),
            "ring_member": rings.member_state(person_id),
            "offers": await rings.offers_for(person_id),
            "questions": rings.questions_of(person_id),
            "consultations": [
                c
                for c in await self.core.consultations.consultations_of(person_id, 50)
                if c.state == ConsultationState.OPEN
            ],
            "callbacks": await self.core.callbacks.callbacks_for(person_id),
        }

    def _rings(self) -> server.Rings:
        rings, person_id = self.core.rings, self.viewer.person_id
        return server.Rings(
            rings=rings.rings_for(person_id), ring_member=rings.member_state(person_id)
        )

    async def on_ring_sign_in(self, frame: client.RingSignIn) -> server.Rings:
        await self.core.rings.sign_in(self.viewer.person_id, frame.ring_id, frame.signed_in)
        return self._rings()

    async def on_ask(self, frame: client.Ask) -> server.QuestionStatusFrame:
        rings = self.core.rings
        args = (frame.question, frame.client_code, frame.urgency, frame.legal_basis)
        if frame.named:
            status = await self.core.named_contacts.ask(self.viewer.person_id, *args)
        else:
            status = await rings.ask(self.viewer.person_id, frame.ring_id, *args)
        return server.QuestionStatusFrame(question=status)

    async def on_cancel(self, frame: client.Cancel) -> None:
        await self.core.rings.cancel(self.viewer.person_id, frame.question_id)

    async def on_accept(self, frame: client.Accept) -> server.Accepted:
        consultation = await self.core.rings.accept(self.viewer.person_id, frame.question_id)
        return server.Accepted(consultation=consultation)

    async def on_decline(self, frame: client.Decline) -> None:
        await self.core.rings.decline(self.viewer.person_id, frame.question_id)

    async def on_close_consultation(
        self, frame: client.CloseConsultation
    ) -> server.ConsultationClosed:
        record = await self.core.consultations.close_consultation(
            self.viewer.person_id,
            frame.consultation_id,
            frame.outcome,
            frame.topic,
            frame.legal_basis,
        )
        return server.ConsultationClosed(consultation=record)

    async def on_invite(self, frame: client.Invite) -> None:
        await self.core.consultations.invite(
            self.viewer.person_id, frame.consultation_id, frame.person_id
        )

    async def on_callback_create(self, frame: client.CallbackCreate) -> server.CallbackCreated:
        callback = await self.core.callbacks.create_callback(
            self.viewer.person_id,
            owner_person_id=frame.owner_person_id,
            owner_ring_id=frame.owner_ring_id,
            question_id=frame.question_id,
            note=frame.note,
            client_code=frame.client_code,
            due_minutes=frame.due_minutes,
        )
        return server.CallbackCreated(callback=callback)

    async def on_callback_update(self, frame: client.CallbackUpdateFrame) -> None:
        await self.core.callbacks.update_callback(
            self.viewer.person_id, frame.callback_id, frame.state
        )

    async def on_load_subscribe(self, frame: client.LoadSubscribe) -> server.Load:
        viewer, load = self.viewer, self.core.load
        if "load" not in self.conn.topics:
            self.conn.topics.add("load")
            load.subscribe(viewer.person_id, viewer.is_admin)
        return server.Load.of(await load.snapshot(viewer.person_id, viewer.is_admin))

    async def on_load_unsubscribe(self, frame: client.LoadUnsubscribe) -> None:
        if "load" in self.conn.topics:
            self.conn.topics.discard("load")
            self.core.load.unsubscribe(self.viewer.person_id)

    # Live ring counts (docs/protocol.md "Ring counts"): the subscription, and the frames
    # about one's own standing in routing and consultations.

    async def on_rings_subscribe(self, frame: client.RingsSubscribe) -> server.Rings:
        if "rings" not in self.conn.topics:
            self.conn.topics.add("rings")
            self.core.rings.subscribe_counts()
        return self._rings()

    async def on_rings_unsubscribe(self, frame: client.RingsUnsubscribe) -> None:
        if "rings" in self.conn.topics:
            self.conn.topics.discard("rings")
            self.core.rings.unsubscribe_counts()

    async def on_ring_resume(self, frame: client.RingResume) -> server.RingMember:
        return server.RingMember.of(await self.core.rings.resume(self.viewer.person_id))

    async def on_consultation_keep_open(self, frame: client.ConsultationKeepOpen) -> None:
        await self.core.consultations.keep_open(self.viewer.person_id, frame.consultation_id)

    async def on_consultation_note(self, frame: client.ConsultationNote) -> None:
        await self.core.consultations.add_note(
            self.viewer.person_id, frame.consultation_id, frame.note
        )

    async def _is_member(self, conversation_id: int) -> bool:
        return await self.core.chat.is_member(conversation_id, self.viewer.person_id)


async def viewer_of_token(core: Core, ws: WebSocket) -> object | None:
    """The session's account now, uncached: it may have ended since the handshake."""
    return await core.accounts.account_for_token(ws.cookies.get(SESSION_COOKIE))


@requires_socket("member")
async def websocket_endpoint(ws: WebSocket, viewer: Viewer) -> None:
    session = Session(core_of(ws), ws, viewer)
    await session.run()
    if ws.application_state != WebSocketState.DISCONNECTED:
        with contextlib.suppress(Exception):
            await ws.close()
