"""The shapes of chat that the server sends: messages and conversations, typed once.

Built by the chat service (liaison/services/chat.py, message_writer.py), carried by the
frames of liaison/protocol/server.py and the JSON API; their schemas are generated from
here (scripts/docs).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from liaison.domain.chat import CLIENT_ID_MAX as TOKEN_MAX
from liaison.domain.vocabulary import ConversationKind
from liaison.protocol.people import Shape, Time


class Message(msgspec.Struct, kw_only=True, gc=False):
    """A stored message, as every member receives it."""

    # gc=False: only numbers and text, no cycles; cheaper on the chat path.

    id: Annotated[int, Meta(description="server id")]
    conversation_id: int
    seq: Annotated[
        int, Meta(ge=1, description="position in the conversation: 1, 2, 3 ... without gaps")
    ]
    sender_id: Annotated[int, Meta(description="person id of the sender")]
    client_id: Annotated[
        str,
        Meta(
            pattern=f"^[A-Za-z0-9_-]{{1,{TOKEN_MAX}}}$",
            description="the id the sending client chose: an opaque token holding no identity code",
        ),
    ]
    body: Annotated[str, Meta(description="plain text")]
    created_at: Time


class Member(Shape):
    """A member of a conversation and their read marker."""

    person_id: int
    last_read_seq: Annotated[int, Meta(ge=0)]


class Conversation(Shape):
    """A conversation as every member sees it (the `conversation` frame): a
    ConversationSummary without the viewer's last_read_seq and unread."""

    id: int
    kind: ConversationKind
    title: Annotated[str, Meta(description="empty for direct conversations")]
    created_by: Annotated[int, Meta(description="person id")]
    last_seq: Annotated[
        int, Meta(ge=0, description="seq of the newest message; 0 when there is none")
    ]
    members: Annotated[list[Member], Meta(description="sorted by person id")]
    last_message: Message | None


class ConversationSummary(Conversation):
    """A conversation as the viewer sees it."""

    last_read_seq: Annotated[int, Meta(ge=0, description="the viewer's read marker")]
    unread: Annotated[int, Meta(ge=0, description="last_seq - last_read_seq, at least 0")]

    def shared(self) -> Conversation:
        """What every member is sent: without the viewer's own read marker and count."""
        return Conversation(
            id=self.id,
            kind=self.kind,
            title=self.title,
            created_by=self.created_by,
            last_seq=self.last_seq,
            members=self.members,
            last_message=self.last_message,
        )


class Conversations(Shape):
    """The viewer's conversations: most recent activity first, those without messages last."""

    conversations: list[ConversationSummary]


class Messages(Shape):
    """A page of history, oldest first."""

    messages: list[Message]
