"""A lean WebSocket client: the `websockets` library's sans-I/O protocol on an asyncio Protocol.

No task and no queue per connection: received text frames go straight to a callback, so
ten thousand idle connections cost the load generator little memory and no CPU.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from websockets.client import ClientProtocol
from websockets.datastructures import Headers
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.typing import Origin, Subprotocol
from websockets.uri import parse_uri

ABNORMAL_CLOSURE = 1006


class HandshakeFailed(Exception):
    pass


class WsConnection(asyncio.Protocol):
    """One client socket. `on_text(bytes)` gets every text message; `close_code` is set once."""

    def __init__(
        self,
        url: str,
        on_text: Callable[[bytes], None],
        *,
        origin: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
        subprotocols: Sequence[str] = (),
        deflate: bool = False,
        on_close: Callable[[WsConnection], None] | None = None,
    ) -> None:
        self.protocol = ClientProtocol(
            parse_uri(url),
            origin=Origin(origin) if origin else None,
            extensions=[ClientPerMessageDeflateFactory()] if deflate else None,
            subprotocols=[Subprotocol(s) for s in subprotocols] or None,
            max_size=None,
        )
        self.on_text = on_text
        self.on_close = on_close
        self.headers = headers
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self.bytes_received = 0
        self.closed_by_client = False
        self._close_timer: asyncio.TimerHandle | None = None
        self._fragments: list[bytes] = []

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = transport  # type: ignore[assignment]
        request = self.protocol.connect()
        extra = Headers(self.headers)
        for name, value in extra.raw_items():
            request.headers[name] = value
        self.protocol.send_request(request)
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.bytes_received += len(data)
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                if self.protocol.handshake_exc is not None:
                    self._fail_open(HandshakeFailed(str(self.protocol.handshake_exc)))
                elif not self.opened.done():
                    self.opened.set_result(None)
            elif isinstance(event, Frame):
                self._frame(event)
        self._flush()

    def eof_received(self) -> bool | None:
        self.protocol.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.close_code is None:
            code = self.protocol.close_code
            self.close_code = code if code is not None else ABNORMAL_CLOSURE
            if self.on_close is not None:
                self.on_close(self)
        self._fail_open(ConnectionError(f"connection lost ({self.close_code})"))
        self.transport = None

    # the client's side

    @property
    def is_open(self) -> bool:
        return self.transport is not None and self.protocol.state is State.OPEN

    def send_text(self, data: bytes) -> bool:
        if not self.is_open:
            return False
        self.protocol.send_text(data)
        self._flush()
        return True

    def close(self, code: int = 1000) -> None:
        self.closed_by_client = True
        if self.is_open:
            self.protocol.send_close(code)
            self._flush()
        elif self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # internals

    def _frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.TEXT or frame.opcode is Opcode.CONT:
            if frame.fin and not self._fragments:
                self.on_text(bytes(frame.data))
                return
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                data, self._fragments = b"".join(self._fragments), []
                self.on_text(data)
        elif frame.opcode is Opcode.CLOSE and self.close_code is None:
            code = self.protocol.close_code
            self.close_code = code if code is not None else ABNORMAL_CLOSURE
            if self.on_close is not None:
                self.on_close(self)

    def _flush(self) -> None:
        if self.transport is None:
            return
        for data in self.protocol.data_to_send():
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():
                self.transport.write_eof()
        if self.protocol.state is State.CLOSED:
            self.transport.close()
        elif self.protocol.close_expected() and self._close_timer is None:
            # The server closes TCP after the closing handshake; do it ourselves if it does not.
            transport = self.transport
            self._close_timer = asyncio.get_running_loop().call_later(10, transport.close)

    def _fail_open(self, exc: Exception) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
            self.opened.exception()  # retrieved: a failed connect is reported by the caller


async def open_ws(
    host: str,
    port: int,
    url: str,
    on_text: Callable[[bytes], None],
    timeout: float,
    **options: object,
) -> WsConnection:
    loop = asyncio.get_running_loop()
    _, conn = await asyncio.wait_for(
        loop.create_connection(lambda: WsConnection(url, on_text, **options), host, port),  # type: ignore[arg-type]
        timeout,
    )
    await asyncio.wait_for(asyncio.shield(conn.opened), timeout)
    return conn
