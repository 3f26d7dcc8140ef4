"""Uploads (photos, import files) read with a cap: refused while streaming, not after.

A body is read chunk by chunk and answered with 413 as soon as it crosses its cap, and
at once when its Content-Length says it will: a 150 MiB photo costs no more memory than
the cap. The multipart form is parsed only from what was kept.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.types import Message

# Room for the form's own parts (boundaries, part headers, other small fields) on top
# of the file's limit.
FORM_OVERHEAD = 64 * 1024


class BodyTooLarge(Exception):
    """The request body is over its cap; ``limit`` is the file limit to name to the user."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


async def capped_form(request: Request, file_limit: int, max_fields: int = 5) -> FormData:
    """The multipart form of a body of at most ``file_limit`` + FORM_OVERHEAD bytes.

    Raises BodyTooLarge as soon as the body is known to be over (Content-Length, or the
    bytes read so far); the rest is never read.
    """
    cap = file_limit + FORM_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge(file_limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge(file_limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    del chunks
    replayed = False

    async def receive() -> Message:
        nonlocal replayed
        if replayed:
            return {"type": "http.disconnect"}
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return await Request(request.scope, receive).form(max_files=1, max_fields=max_fields)


def too_large_reason(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"the file is larger than the limit of {limit / 1024 / 1024:g} MiB"
    return f"the file is larger than the limit of {limit // 1024} KiB"
