"""A minimal HTTP/1.1 client for logins and setup calls: one request per connection.

httpx or aiohttp would do the same with far more CPU and memory per simulated user; the
load generator must stay cheap beside the server it measures.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    cookies: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


async def request(
    host: str,
    port: int,
    method: str,
    path: str,
    *,
    cookies: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    json_body: Any = None,
    timeout: float = 30.0,
) -> HttpResponse:
    body = b""
    all_headers = {"Host": f"{host}:{port}", "Connection": "close", **(headers or {})}
    if form is not None:
        body = urlencode(form).encode()
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif json_body is not None:
        body = json.dumps(json_body).encode()
        all_headers["Content-Type"] = "application/json"
    if body or method in ("POST", "PUT", "PATCH"):
        all_headers["Content-Length"] = str(len(body))
    if cookies:
        all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in all_headers.items()
    )
    return await asyncio.wait_for(_exchange(host, port, head.encode() + b"\r\n" + body), timeout)


async def _exchange(host: str, port: int, raw: bytes) -> HttpResponse:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(raw)
        data = await reader.read(-1)  # Connection: close, so the body ends at EOF
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = [
        (k.strip().lower(), v.strip()) for k, v in (line.split(":", 1) for line in lines[1:])
    ]
    if dict(headers).get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    cookies = {}
    for name, value in headers:
        if name == "set-cookie":
            pair = value.split(";", 1)[0]
            key, _, val = pair.partition("=")
            cookies[key.strip()] = val.strip().strip('"')
    return HttpResponse(status, headers, body, cookies)


def _dechunk(data: bytes) -> bytes:
    out, rest = [], data
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2 :]
    return b"".join(out)
