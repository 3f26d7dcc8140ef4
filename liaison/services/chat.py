"""Chat service: stores messages once, in order, and delivers them to members' connections.

Messages go through the node's `MessageWriter` (group commit, docs/architecture.md).
Who is in which conversation is read once and kept: every change of members is announced
on the bus (`{"k": "members"}`), and every node replaces its copy from it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from liaison.clock import Clock
from liaison.config import Settings
from liaison.domain import chat as domain
from liaison.domain import identity
from liaison.domain.chat import ChatError
from liaison.domain.vocabulary import ConversationKind
from liaison.protocol import server
from liaison.protocol.conversations import (
    Conversation,
    ConversationSummary,
    Member,
    Message,
)
from liaison.services.hub import Hub
from liaison.services.message_writer import (
    CONVERSATIONS,
    MEMBERS,
    MessageWriter,
    Send,
    message_of,
)
from liaison.store import repositories as repo
from liaison.store.db import writing

# Conversations whose members a node keeps in memory (the least recently used go).
MEMBER_CACHE_SIZE = 50_000


class ChatService:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        engine: AsyncEngine,
        db: async_sessionmaker[AsyncSession],
        hub: Hub,
    ) -> None:
        self.config = settings
        self.clock = clock
        self.engine = engine
        self.db = db
        self.hub = hub
        self._members: OrderedDict[int, frozenset[int]] = OrderedDict()
        self.writer = MessageWriter(
            engine, clock, self._members_of, self._publish, settings.outbox_size * 10
        )
        hub.on("members", self._on_members)

    async def start(self) -> None:
        await self.writer.start()

    async def stop(self) -> None:
        await self.writer.stop()

    # ------------------------------------------------------------ members, cached

    async def _members_of(
        self, conn: AsyncConnection, conversation_ids: Iterable[int], fresh: bool = False
    ) -> dict[int, frozenset[int]]:
        """Members of these conversations (unknown ids: empty); read from the database
        only for those not in memory (or all, `fresh`)."""
        wanted = set(conversation_ids)
        found = {} if fresh else {c: m for c in wanted if (m := self._members.get(c)) is not None}
        missing = sorted(wanted - set(found))
        if missing:
            loaded: dict[int, set[int]] = {c: set() for c in missing}
            rows = await conn.execute(
                select(MEMBERS.c.conversation_id, MEMBERS.c.person_id).where(
                    MEMBERS.c.conversation_id.in_(missing)
                )
            )
            for conversation_id, person_id in rows:
                loaded[conversation_id].add(person_id)
            for conversation_id, people in loaded.items():
                found[conversation_id] = self._remember(conversation_id, frozenset(people))
        for conversation_id in found:
            if conversation_id in self._members:
                self._members.move_to_end(conversation_id)
        return found

    def _remember(self, conversation_id: int, members: frozenset[int]) -> frozenset[int]:
        self._members[conversation_id] = members
        self._members.move_to_end(conversation_id)
        while len(self._members) > MEMBER_CACHE_SIZE:
            self._members.popitem(last=False)
        return members

    async def members(self, conversation_id: int, person_id: int) -> frozenset[int]:
        """The members of a conversation this person is in; refused otherwise. A person
        not in the kept copy is looked up afresh (they may have just been added)."""
        async with self.engine.connect() as conn:
            members = (await self._members_of(conn, [conversation_id]))[conversation_id]
            if person_id not in members:
                members = (await self._members_of(conn, [conversation_id], fresh=True))[
                    conversation_id
                ]
        if person_id not in members:
            raise ChatError("not_a_member", "you are not a member of that conversation")
        return members

    async def is_member(self, conversation_id: int, person_id: int) -> bool:
        """Whether the person is in the conversation now, as stored (no kept copy)."""
        async with self.db() as db:
            return await repo.is_member(db, conversation_id, person_id)

    async def _on_members(self, message: dict[str, Any]) -> None:
        """A conversation's members changed (on any node): keep the new list, and its
        members' connections here show each other's presence from now on."""
        members = frozenset(int(p) for p in message["m"])
        self._remember(int(message["c"]), members)
        self.hub.watch_each_other(members)

    async def _require_member(self, db: AsyncSession, conversation_id: int, person_id: int) -> None:
        await self.members(conversation_id, person_id)

    async def _publish(self, stored: list[tuple[Message, list[int]]]) -> None:
        for message, members in stored:
            await self.hub.send(members, server.Message(message=message))

    async def send(
        self, sender_id: int, conversation_id: int, client_id: str, body: str
    ) -> tuple[Message, bool, int]:
        """Stores and delivers a message; a repeated client id returns the stored one (True).

        Personal identity codes in the body are replaced (``identity.redact_identity_codes``)
        before the message is stored or delivered, so the code itself is never kept. The
        third value is for the sender's acknowledgement only: how many codes were replaced
        in this body (0 if none; for a duplicate, counted again from the resent body).
        """
        text, redacted = identity.redact_identity_codes(
            domain.clean_body(body, self.config.max_message_chars), self.config.secret_key
        )
        # Stored in the writer's next batch; the ack waits for its commit.
        message, duplicate = await self.writer.send(
            Send(sender_id, conversation_id, client_id, text)
        )
        return message, duplicate, redacted

    async def mark_read(self, person_id: int, conversation_id: int, seq: int) -> int:
        """Moves the person's read marker forward (never past the last message)."""
        conv_id, upto = conversation_id, seq
        members = await self.members(conv_id, person_id)
        last_seq = (
            select(CONVERSATIONS.c.last_seq).where(CONVERSATIONS.c.id == conv_id).scalar_subquery()
        )
        async with writing(self.engine).begin() as conn:
            await conn.execute(
                update(MEMBERS)
                .where(
                    MEMBERS.c.conversation_id == conv_id,
                    MEMBERS.c.person_id == person_id,
                    MEMBERS.c.last_read_seq < upto,
                )
                .values(last_read_seq=_least(upto, last_seq))
            )
            now_read = await conn.scalar(
                select(MEMBERS.c.last_read_seq).where(
                    MEMBERS.c.conversation_id == conv_id, MEMBERS.c.person_id == person_id
                )
            )
        await self.hub.send(
            sorted(members),
            server.Read(conversation_id=conv_id, person_id=person_id, seq=int(now_read or 0)),
        )
        return int(now_read or 0)

    async def typing(self, person_id: int, conv_id: int) -> None:
        others = sorted(await self.members(conv_id, person_id) - {person_id})
        await self.hub.send(others, server.Typing(conversation_id=conv_id, person_id=person_id))

    async def summaries(self, person_id: int) -> list[ConversationSummary]:
        async with self.db() as db:
            return [summary_of(row) for row in await repo.conversation_rows(db, person_id)]

    async def history(
        self, person_id: int, conversation_id: int, before_seq: int | None, limit: int
    ) -> list[Message]:
        async with self.db() as db:
            await self._require_member(db, conversation_id, person_id)
            rows = await repo.messages_before(db, conversation_id, before_seq, min(limit, 200))
        return [message_of(m) for m in rows]

    async def missed(
        self, person_id: int, cursors: dict[int, int]
    ) -> tuple[list[Message], list[int]]:
        """Messages after each cursor, oldest first; also the conversations cut short."""
        budget = self.config.resume_max_messages
        result: list[Message] = []
        truncated: list[int] = []
        async with self.db() as db:
            for conv_id, after in cursors.items():
                if not await repo.is_member(db, conv_id, person_id):
                    continue
                if budget <= 0:
                    truncated.append(conv_id)
                    continue
                batch = await repo.messages_after(db, conv_id, after, budget + 1)
                if len(batch) > budget:
                    truncated.append(conv_id)
                    batch = batch[:budget]
                budget -= len(batch)
                result.extend(message_of(m) for m in batch)
        return result, truncated

    # ------------------------------------------------------------ conversations

    async def open_direct(self, person_id: int, other_id: int) -> Conversation:
        if other_id == person_id:
            raise ChatError("bad_field", "a direct conversation needs another person")
        key = domain.direct_key(person_id, other_id)
        try:
            async with self.db.begin() as db:
                if await repo.get_person(db, other_id) is None:
                    raise ChatError("not_found", "no such person")
                conversation = await repo.direct_conversation(db, key)
                if conversation is None:
                    conversation = await repo.create_conversation(
                        db, "direct", "", key, person_id, [person_id, other_id], self.clock.now()
                    )
        except IntegrityError:
            # Both people opened the conversation at once: the other request created it.
            async with self.db() as db:
                conversation = await repo.direct_conversation(db, key)
            assert conversation is not None
        return await self.announce(conversation.id, person_id)

    def _title(self, title: str) -> str:
        """A group title as stored and sent: identity codes replaced, then within the limit."""
        name = domain.clean_title(title)
        return domain.check_title_length(
            identity.redact_identity_codes(name, self.config.secret_key)[0]
        )

    async def create_group(self, person_id: int, title: str, members: list[int]) -> Conversation:
        async with self.db.begin() as db:
            conversation_id = await self.new_group(db, person_id, title, members)
        return await self.announce(conversation_id, person_id)

    async def new_group(
        self, db: AsyncSession, person_id: int, title: str, members: list[int]
    ) -> int:
        """A group written in the caller's transaction (a consultation's conversation is
        written with its link); `announce` it once that is committed."""
        name = self._title(title)
        everyone = sorted({person_id, *members})
        domain.check_group_size(len(everyone), self.config.max_group_members)
        for pid in everyone:
            if await repo.get_person(db, pid) is None:
                raise ChatError("not_found", "no such person")
        conversation = await repo.create_conversation(
            db, "group", name, None, person_id, everyone, self.clock.now()
        )
        return conversation.id

    async def _group_for_change(
        self,
        db: AsyncSession,
        actor_id: int,
        actor_is_admin: bool,
        conversation_id: int,
        invited: bool = False,
    ) -> Any:
        conversation = await repo.get_conversation(db, conversation_id)
        if conversation is None:
            raise ChatError("not_found", "no such conversation")
        if conversation.kind != "group":
            raise ChatError("not_allowed", "the members of a direct conversation cannot change")
        if not invited and await repo.is_consultation_conversation(db, conversation_id):
            # A consultation concerns a client: its circle is the asker, the expert and a
            # third person invited through the consultation (recorded there), nobody else.
            raise ChatError(
                "not_allowed", "a consultation's conversation changes only through its invite"
            )
        if not actor_is_admin and not await repo.is_member(db, conversation_id, actor_id):
            raise ChatError("not_allowed", "only the group's members or an admin can change it")
        return conversation

    async def add_member(
        self,
        actor_id: int,
        actor_is_admin: bool,
        conversation_id: int,
        person_id: int,
        invited: bool = False,
    ) -> Conversation:
        """Adds someone to a group; `invited` is the consultation's own invite (rings)."""
        async with self.db.begin() as db:
            conversation = await self._group_for_change(
                db, actor_id, actor_is_admin, conversation_id, invited
            )
            if await repo.get_person(db, person_id) is None:
                raise ChatError("not_found", "no such person")
            members = await repo.member_ids(db, conversation_id)
            if person_id in members:
                raise ChatError("already_member", "that person is already a member")
            domain.check_group_size(len(members) + 1, self.config.max_group_members)
            await repo.add_member(db, conversation, person_id, self.clock.now())
        return await self.announce(conversation_id, actor_id)

    async def remove_member(
        self, actor_id: int, actor_is_admin: bool, conversation_id: int, person_id: int
    ) -> None:
        async with self.db.begin() as db:
            await self._group_for_change(db, actor_id, actor_is_admin, conversation_id)
            members = await repo.member_ids(db, conversation_id)
            if person_id not in members:
                raise ChatError("not_found", "that person is not a member")
            if len(members) <= 2 and person_id != actor_id:
                # Anyone may leave; nobody is pushed out of a pair, which is no longer a group.
                raise ChatError("bad_field", "a group needs at least two members")
            await repo.remove_member(db, conversation_id, person_id)
        await self.hub.send(
            [person_id], server.ConversationRemoved(conversation_id=conversation_id)
        )
        await self._tell_members(conversation_id, None)

    async def rename(
        self, actor_id: int, actor_is_admin: bool, conversation_id: int, title: str
    ) -> Conversation:
        name = self._title(title)
        async with self.db.begin() as db:
            conversation = await self._group_for_change(
                db, actor_id, actor_is_admin, conversation_id
            )
            conversation.title = name
        return await self.announce(conversation_id, actor_id)

    async def announce(self, conversation_id: int, viewer_id: int) -> Conversation:
        """Tell every member about the conversation as it now is; returns the viewer's copy:
        the summary for a member, else (an admin) the shared view without the last message."""
        found = await self._tell_members(conversation_id, viewer_id)
        if found is None:
            raise ChatError("not_found", "no such conversation")
        return found

    async def _tell_members(
        self, conversation_id: int, viewer_id: int | None
    ) -> Conversation | None:
        async with self.db() as db:
            members = await repo.member_ids(db, conversation_id)
            if not members:
                # A group everyone left, changed by an admin: nobody to tell.
                c = await repo.get_conversation(db, conversation_id)
                return (
                    None
                    if c is None
                    else Conversation(
                        id=c.id,
                        kind=ConversationKind(c.kind),
                        title=c.title,
                        created_by=c.created_by,
                        last_seq=c.last_seq,
                        members=[],
                        last_message=None,
                    )
                )
            row = (
                await repo.conversation_rows(
                    db, viewer_id if viewer_id in members else members[0], only=conversation_id
                )
            )[0]
        summary = summary_of(row)
        # Unread counts are per member: each client derives its own from the members list.
        shared = summary.shared()
        # Every node keeps the new members; they see each other's presence from now on.
        await self.hub.publish({"k": "members", "c": conversation_id, "m": members})
        await self.hub.send(members, server.Conversation(conversation=shared))
        if viewer_id in members:
            return summary
        # An admin who is not a member changed it: no content of the conversation.
        shared.last_message = None
        return shared


def summary_of(row: repo.ConversationRow) -> ConversationSummary:
    c, last = row.conversation, row.last_message
    return ConversationSummary(
        id=c.id,
        kind=ConversationKind(c.kind),
        title=c.title,
        created_by=c.created_by,
        last_seq=c.last_seq,
        members=[Member(person_id=p, last_read_seq=seq) for p, seq in row.members],
        last_message=None if last is None else message_of(last),
        last_read_seq=row.last_read_seq,
        unread=max(0, c.last_seq - row.last_read_seq),
    )


def _least(value: int, column: Any) -> Any:
    """min(value, column) in SQL, the same on SQLite and PostgreSQL."""
    return case((column < value, column), else_=value)
