"""The reference texts of the protocol's codes, beside the codes (scripts/docs puts them
in docs/protocol.md): when each error code is sent over the WebSocket, and what each close
code means."""

from __future__ import annotations

from enum import IntEnum

from liaison.domain.vocabulary import ErrorCode


class CloseCode(IntEnum):
    """The WebSocket close codes the server uses."""

    NOT_AUTHENTICATED = 4001
    BAD_ORIGIN = 4003
    FLOOD = 4008
    DISABLED = 4009
    HEARTBEAT_TIMEOUT = 4010
    HELLO_TIMEOUT = 4011
    UNSUPPORTED_VERSION = 4012
    SLOW_CONSUMER = 1013
    RESYNC = 1012
    INTERNAL = 1011
    BAD_UTF8 = 1007
    NORMAL = 1000


# When each code of an `error` frame is sent (codes used only over HTTP are not listed).
ERROR_WHEN: dict[ErrorCode, str] = {
    ErrorCode.BAD_JSON: "the text is not valid JSON",
    ErrorCode.BAD_FRAME: "not a JSON object; no string `type`; a binary message; `hello` after `welcome`",
    ErrorCode.UNKNOWN_TYPE: "`type` is not one of the client frame types",
    ErrorCode.HELLO_REQUIRED: "a frame other than `hello` before `hello`",
    ErrorCode.BAD_FIELD: 'a field is missing, unknown (in any frame), of the wrong type or out of range, or has an invalid value; the reason names the field and the rule, never the value. Also: a non-boolean `active` in `hello` or `heartbeat`; a bad `resume`, `watch` or `presence_since` in `hello`; a bad `people` in `watch` or `since` in `presence_sync`; in `set_presence`, an unknown field, no field at all, or `dnd_until` without `status: "dnd"`; in ring frames, a blank question, an unknown `urgency`, `legal_basis`, `outcome`, `topic` or callback `state`, a callback without an owner, `due_minutes` out of range, a consultation that already has a third person',
    ErrorCode.FRAME_TOO_LARGE: "the frame exceeds `config.max_frame_bytes`; the error carries the frame's `ref` when it can be read (a too large frame: when `ref` is its first field)",
    ErrorCode.BAD_TEXT: "a string in the frame (a value or a key) holds a NUL character or a lone UTF-16 surrogate (`\\ud800`-`\\udfff` written as a JSON escape): text that can neither be stored nor sent; the frame is dropped. Over HTTP the same is 400 `bad_text`",
    ErrorCode.RATE_LIMITED: "the frame exceeded the rate limit and was dropped; the error carries the frame's `ref` when it can be read",
    ErrorCode.EMPTY_MESSAGE: "`send` with a body that is empty after cleaning",
    ErrorCode.MESSAGE_TOO_LONG: "`send` with a body over `config.max_message_chars` characters",
    ErrorCode.ID_REUSED: "`send` with an `id` this user already used for a message in a different conversation",
    ErrorCode.TOO_MANY: "`watch` (or `hello.watch`) naming more than `LIAISON_MAX_WATCH` people",
    ErrorCode.NOT_A_MEMBER: "`send`, `read`, `typing` or `sync` for a conversation the user is not a member of (or that does not exist)",
    ErrorCode.BAD_STATUS: "`set_presence` with a status other than `available`, `away`, `dnd`",
    ErrorCode.NOT_FOUND: "ring frames: no such ring (`ask`, `callback_create`), question (`cancel`, `accept`; `callback_create` with a `question_id` that is not the user's), consultation of the user (`close_consultation`, `invite`), or callback request the user may handle (`callback_update`)",
    ErrorCode.NOT_ALLOWED: "`ring_sign_in` for a ring the user is not a configured member of (or that does not exist); `cancel` by someone other than the asker; `close_consultation` and `consultation_keep_open` by a participant who is not the consultation's expert",
    ErrorCode.INVALID_IDENTITY_CODE: "`ask` or `callback_create` with a `client_code` that is not a valid personal identity code; the reason names the failed check (`format`, `century`, `date`, `check`), never the input",
    ErrorCode.QUESTION_TOO_LONG: "`ask` with a question over 500 characters (after collapsing whitespace)",
    ErrorCode.NO_NAMED_CONTACTS: "`ask` with `named: true` when the user's area has neither named contacts on the other side nor a liaison ring",
    ErrorCode.ALREADY_TAKEN: "`accept` of a question someone accepted first",
    ErrorCode.NOT_OFFERED: "`accept` without a live offer for this user",
    ErrorCode.CLOSED: "`accept` of a cancelled or timed-out question; `close_consultation` or `invite` of a consultation that is not open; `callback_update` of a request already `done` or `could_not_reach`",
    ErrorCode.ALREADY_MEMBER: "adding someone to a group who is already in it",
    ErrorCode.UNAVAILABLE: 'the server could not reach its database in time (PostgreSQL down or unreachable, a statement over 10 s, no pooled connection within 10 s); nothing of the frame was kept: send it again later (a `send` with the same `id` is safe to repeat). Over HTTP the same is status **503** with `{"error": "unavailable"}`',
    ErrorCode.INTERNAL: "the server failed while handling the frame (logged on the server)",
}

# What each close code means, and what a client should do.
CLOSE_MEANING: dict[CloseCode, tuple[str, str]] = {
    CloseCode.NOT_AUTHENTICATED: (
        'not logged in: no valid session cookie when the socket opened; or (reason "logged out") the socket\'s session was logged out',
        "log in again, then reconnect",
    ),
    CloseCode.BAD_ORIGIN: (
        "`Origin` missing or not allowed",
        "fix the client or `LIAISON_ALLOWED_ORIGINS`; do not retry blindly",
    ),
    CloseCode.FLOOD: (
        "flood: too many frames were dropped by the rate limit",
        "reconnect later, send less",
    ),
    CloseCode.DISABLED: (
        "the account was disabled by an administrator (its sessions are deleted too)",
        "stop; reconnecting gives 4001",
    ),
    CloseCode.HEARTBEAT_TIMEOUT: (
        "no frame received for `heartbeat_timeout` seconds",
        "reconnect; send heartbeats",
    ),
    CloseCode.HELLO_TIMEOUT: (
        "no valid `hello` within 10 s of the socket being accepted",
        "reconnect and send `hello` first",
    ),
    CloseCode.UNSUPPORTED_VERSION: (
        "`hello.v` is not a supported version",
        "stop: the client is too old or too new",
    ),
    CloseCode.SLOW_CONSUMER: (
        "too slow: the connection's outbox (`LIAISON_OUTBOX_SIZE` frames) was full, so queued frames were dropped",
        "reconnect with `resume`",
    ),
    CloseCode.RESYNC: (
        "the server's nodes lost messages between them (the bus, Redis, was unreachable or restarted): what this connection was sent may have holes",
        "reconnect with `resume` and `presence_since` after a random wait of up to 5 s (every connection of the node is closed at once)",
    ),
    CloseCode.INTERNAL: (
        "the server could not write to the connection (or, from the transport, a protocol ping went unanswered)",
        "reconnect with `resume`",
    ),
    CloseCode.BAD_UTF8: (
        "a text frame was not valid UTF-8 (closed by the WebSocket layer before the protocol sees it)",
        "fix the client; reconnect",
    ),
    CloseCode.NORMAL: (
        "the server ended the session in another way (an unexpected failure, for example while preparing `welcome`)",
        "reconnect",
    ),
}
