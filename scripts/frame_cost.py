#!/usr/bin/env python3
"""Cost of one chat `send` frame at the edge: decode and check in, ack encode out; the
before path is the hand-written one this replaced (docs/architecture.md, "One typed
contract"). Run: .venv/bin/python scripts/frame_cost.py

`--only NAME --number N` runs one case N times and prints nothing: for an instruction
count that does not depend on the machine's load, run it under
`valgrind --tool=callgrind` with N and with 0, and divide the difference by N."""

import argparse
import json
import timeit

from liaison.domain.chat import is_token
from liaison.domain.text import LONG_NUMBER, fits, storable
from liaison.protocol import client, server
from liaison.protocol.conversations import Message
from liaison.protocol.server import encode

TEXT = json.dumps(
    {
        "type": "send",
        "id": "k3J9xQ2mP8vL5nR7tW1yZ4aB",
        "conversation_id": 12,
        "body": "Hei! Onko asumistuen muutosilmoitus tarpeen, kun tulot muuttuvat?",
        "ref": 17,
    }
)
MESSAGE = {
    "id": 991,
    "conversation_id": 12,
    "seq": 58,
    "sender_id": 3,
    "client_id": "k3J9xQ2mP8vL5nR7tW1yZ4aB",
    "body": "Hei! Onko asumistuen muutosilmoitus tarpeen, kun tulot muuttuvat?",
    "created_at": "2026-11-30T09:00:00+00:00",
}


def old_decode():
    frame = json.loads(TEXT)
    assert isinstance(frame, dict)
    if "\\u" in TEXT and not storable(frame):
        raise ValueError
    if LONG_NUMBER.search(TEXT) and not fits(frame):
        raise ValueError
    assert isinstance(frame.get("type"), str)
    cid = frame["id"]
    assert isinstance(cid, str) and is_token(cid)
    conv = frame["conversation_id"]
    assert isinstance(conv, int) and not isinstance(conv, bool) and 0 <= conv < 2**63
    assert isinstance(frame["body"], str)
    return frame


def old_encode():
    return json.dumps(
        {
            "type": "ack",
            "id": "k3J9xQ2mP8vL5nR7tW1yZ4aB",
            "duplicate": False,
            "redacted": 0,
            "message": MESSAGE,
            "ref": 17,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def new_decode():
    return client.decoder.decode(TEXT)


def dict_encode():
    """The chat path before its shapes were typed: the message a dict, built per row."""
    message = {key: MESSAGE[key] for key in MESSAGE}
    encode(server.Message(message=message))
    return encode(
        server.Ack(
            id="k3J9xQ2mP8vL5nR7tW1yZ4aB", duplicate=False, redacted=0, message=message, ref=17
        )
    )


def new_encode():
    """Now: a Message Struct built once, its `message` frame (sent to every member, the
    same bytes) and the sender's `ack`."""
    message = Message(**MESSAGE)
    encode(server.Message(message=message))
    return encode(
        server.Ack(
            id="k3J9xQ2mP8vL5nR7tW1yZ4aB", duplicate=False, redacted=0, message=message, ref=17
        )
    )


CASES = {
    "old_decode": ("before: json + hand checks, decode", old_decode),
    "new_decode": ("after: msgspec Struct, decode", new_decode),
    "old_encode": ("before: json.dumps ack", old_encode),
    "dict_encode": ("msgspec, message a dict: build, message + ack frames", dict_encode),
    "new_encode": ("msgspec, typed Message: build, message + ack frames", new_encode),
}

parser = argparse.ArgumentParser()
parser.add_argument("--only", choices=sorted(CASES))
parser.add_argument("--number", type=int, default=20000)
args = parser.parse_args()
if args.only:
    f = CASES[args.only][1]
    for _ in range(args.number):
        f()
else:
    for name, f in CASES.values():
        best = min(timeit.repeat(f, number=args.number, repeat=5)) / args.number * 1e6
        print(f"{name}: {best:.2f} µs")
