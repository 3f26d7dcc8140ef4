"""The queries the services need, one function each; services never build SQL themselves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from liaison.domain import presence as presence_domain
from liaison.domain import rings as rings_domain
from liaison.domain.directory import fold, match_key, vocabulary_words
from liaison.store.models import (
    Account,
    Consultation,
    Conversation,
    ConversationMember,
    Deadline,
    Message,
    Organisation,
    Person,
    Photo,
    PresenceSettings,
    RingMemberState,
    RingQuestion,
    RingQuestionGone,
    RingRouting,
    RingState,
    Session,
    Unit,
)


def insert_for(db: AsyncSession) -> Any:
    """The database's own INSERT, which has ON CONFLICT (an upsert in one statement)."""
    return postgresql_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert


# ---------------------------------------------------------------- directory


def search_text_for(person: Person, organisation: Organisation, unit: Unit | None) -> str:
    """Folded (case and accents) so a search typed without ä or ö still finds the person."""
    parts = [
        person.first_name,
        person.last_name,
        person.title,
        person.email,
        organisation.name,
        unit.name if unit else "",
        unit.area if unit else "",
        person.ask_me_about,
        " ".join(person.benefits),
        " ".join(person.tags),
        " ".join(person.roles),
        *(word for code in (*person.roles, *person.benefits) for word in vocabulary_words(code)),
    ]
    return fold(" ".join(p for p in parts if p))


# A directory entry as stored: the person, their organisation and unit (services shape it).
PersonRow = tuple[Person, Organisation, Unit | None]


def _people_query() -> Any:
    return (
        select(Person, Organisation, Unit)
        .join(Organisation, Person.organisation_id == Organisation.id)
        .outerjoin(Unit, Person.unit_id == Unit.id)
    )


async def search_people(
    db: AsyncSession,
    text: str = "",
    benefit: str = "",
    organisation_id: int | None = None,
    area: str = "",
    tag: str = "",
    role: str = "",
    limit: int = 200,
) -> list[PersonRow]:
    query = _people_query()
    for word in fold(text).split()[:8]:
        query = query.where(Person.search_text.contains(word, autoescape=True))
    if organisation_id is not None:
        query = query.where(Person.organisation_id == organisation_id)
    if area:
        query = query.where(Unit.area_key == match_key(area))
    rows = (await db.execute(query.order_by(Person.last_name, Person.first_name))).all()
    result: list[PersonRow] = []
    for person, org, unit in rows:
        # JSON list membership is filtered here: portable across SQLite and PostgreSQL.
        if benefit and benefit not in person.benefits:
            continue
        if tag and match_key(tag) not in (match_key(t) for t in person.tags):
            continue
        if role and role not in person.roles:
            continue
        result.append((person, org, unit))
        if len(result) >= limit:
            break
    return result


async def get_person(db: AsyncSession, person_id: int) -> PersonRow | None:
    row = (await db.execute(_people_query().where(Person.id == person_id))).first()
    return (row[0], row[1], row[2]) if row else None


async def person_ids(db: AsyncSession) -> list[int]:
    return list((await db.scalars(select(Person.id))).all())


async def update_person_profile(db: AsyncSession, person_id: int, **fields: Any) -> None:
    person = await db.get(Person, person_id)
    if person is None:
        raise LookupError("person")
    for key, value in fields.items():
        setattr(person, key, value)
    organisation = await db.get(Organisation, person.organisation_id)
    unit = await db.get(Unit, person.unit_id) if person.unit_id else None
    assert organisation is not None
    person.search_text = search_text_for(person, organisation, unit)


async def set_photo(db: AsyncSession, person_id: int, content_type: str, data: bytes) -> int:
    photo = await db.get(Photo, person_id)
    if photo is None:
        db.add(Photo(person_id=person_id, content_type=content_type, data=data))
    else:
        photo.content_type, photo.data = content_type, data
    person = await db.get(Person, person_id)
    assert person is not None
    person.photo_version += 1
    return person.photo_version


async def get_photo(db: AsyncSession, person_id: int) -> Photo | None:
    return await db.get(Photo, person_id)


async def list_organisations(db: AsyncSession) -> list[tuple[Organisation, list[Unit]]]:
    """Every organisation by name, with its units by name."""
    orgs = (await db.scalars(select(Organisation).order_by(Organisation.name))).all()
    units = (await db.scalars(select(Unit).order_by(Unit.name))).all()
    by_org: dict[int, list[Unit]] = {}
    for u in units:
        by_org.setdefault(u.organisation_id, []).append(u)
    return [(o, by_org.get(o.id, [])) for o in orgs]


async def list_areas(db: AsyncSession) -> list[str]:
    """Each area once, also when units spell it in different cases (one area_key), as
    its first unit spells it."""
    rows = await db.scalars(select(Unit.area).where(Unit.area != "").order_by(Unit.id))
    by_key: dict[str, str] = {}
    for area in rows.all():
        by_key.setdefault(match_key(area), area)
    return sorted(by_key.values())


# ---------------------------------------------------------------- accounts and sessions


async def account_by_username(db: AsyncSession, username: str) -> Account | None:
    result: Account | None = await db.scalar(
        select(Account).where(func.lower(Account.username) == username.lower())
    )
    return result


async def account_for_session(db: AsyncSession, token_hash: str, now: datetime) -> Account | None:
    result: Account | None = await db.scalar(
        select(Account)
        .join(Session, Session.account_id == Account.id)
        .where(Session.token_hash == token_hash, Session.expires_at > now, ~Account.disabled)
    )
    return result


async def create_session(
    db: AsyncSession, token_hash: str, account_id: int, now: datetime, expires_at: datetime
) -> None:
    db.add(
        Session(token_hash=token_hash, account_id=account_id, created_at=now, expires_at=expires_at)
    )


async def delete_session(db: AsyncSession, token_hash: str) -> None:
    await db.execute(delete(Session).where(Session.token_hash == token_hash))


async def delete_sessions_of(db: AsyncSession, account_id: int) -> None:
    await db.execute(delete(Session).where(Session.account_id == account_id))


async def delete_expired_sessions(db: AsyncSession, now: datetime) -> None:
    await db.execute(delete(Session).where(Session.expires_at <= now))


async def list_accounts(db: AsyncSession) -> list[tuple[Account, Person]]:
    rows = (
        await db.execute(
            select(Account, Person)
            .join(Person, Account.person_id == Person.id)
            .order_by(Account.username)
        )
    ).all()
    return [(a, p) for a, p in rows]


# ---------------------------------------------------------------- presence settings


def settings_from_row(row: PresenceSettings) -> presence_domain.PresenceSettings:
    return presence_domain.PresenceSettings(
        manual_status=row.manual_status,
        dnd_until=row.dnd_until,
        note=row.note,
        out_of_office_until=row.out_of_office_until,
        out_of_office_note=row.out_of_office_note,
        phone_hours=list(row.phone_hours or []),
        last_seen_at=row.last_seen_at,
    )


async def presence_settings(
    db: AsyncSession, people: set[int] | None = None
) -> dict[int, presence_domain.PresenceSettings]:
    """The stored settings of these people (None: of everyone), busy from their open
    consultations: busy is derived, not stored (an open consultation makes its expert busy)."""
    found: dict[int, presence_domain.PresenceSettings] = {}
    for chunk in _chunks(people):
        statement = select(PresenceSettings)
        if chunk is not None:
            statement = statement.where(PresenceSettings.person_id.in_(chunk))
        found.update({r.person_id: settings_from_row(r) for r in await db.scalars(statement)})
    for person_id in await busy_people(db, people):
        found.setdefault(person_id, presence_domain.PresenceSettings()).busy = True
    return found


async def busy_people(db: AsyncSession, people: set[int] | None = None) -> set[int]:
    """Those of these people (None: of everyone) who are the expert of an open consultation."""
    busy: set[int] = set()
    for chunk in _chunks(people):
        statement = (
            select(Consultation.expert_id)
            .where(Consultation.state == "open", Consultation.expert_id.is_not(None))
            .distinct()
        )
        if chunk is not None:
            statement = statement.where(Consultation.expert_id.in_(chunk))
        busy.update(e for e in await db.scalars(statement) if e is not None)
    return busy


def _chunks(people: set[int] | None, size: int = 1000) -> list[list[int] | None]:
    """Ids in lists short enough for one IN (); None stays one query over everyone."""
    if people is None:
        return [None]
    ids = sorted(people)
    return [ids[start : start + size] for start in range(0, len(ids), size)]


# The settings a person sets by hand; last seen and busy are written by their own paths.
PRESENCE_FIELDS = frozenset(
    {"manual_status", "dnd_until", "note", "out_of_office_until", "out_of_office_note",
     "phone_hours"}
)  # fmt: skip


async def save_presence_fields(db: AsyncSession, person_id: int, fields: dict[str, Any]) -> None:
    """Stores these fields of a person's presence settings and no others, in one upsert:
    a change made at the same time to other fields (on any node) is kept."""
    unknown = set(fields) - PRESENCE_FIELDS
    if unknown:
        raise ValueError(f"not presence settings: {sorted(unknown)}")
    if not fields:
        return
    insert = insert_for(db)
    statement = insert(PresenceSettings).values(person_id=person_id, **fields)
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=[PresenceSettings.person_id],
            set_={name: statement.excluded[name] for name in fields},
        )
    )


async def touch_last_seen(db: AsyncSession, seen: dict[int, datetime]) -> None:
    """Stores last-seen times, one statement for them all. An upsert: two connections of
    one person may close at the same moment, and read-then-insert would let both insert.
    A time earlier than the one stored is not written: two nodes store the closes of
    their own tabs of one person, and the later write may carry the earlier time."""
    if not seen:
        return
    insert = insert_for(db)
    statement = insert(PresenceSettings)
    stored, given = PresenceSettings.last_seen_at, statement.excluded.last_seen_at
    later = case((or_(stored.is_(None), stored < given), given), else_=stored)
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=[PresenceSettings.person_id], set_={"last_seen_at": later}
        ),
        [{"person_id": p, "last_seen_at": t} for p, t in sorted(seen.items())],
    )


# ---------------------------------------------------------------- conversations and messages


async def member_ids(db: AsyncSession, conversation_id: int) -> list[int]:
    rows = await db.scalars(
        select(ConversationMember.person_id)
        .where(ConversationMember.conversation_id == conversation_id)
        .order_by(ConversationMember.person_id)
    )
    return list(rows.all())


async def is_member(db: AsyncSession, conversation_id: int, person_id: int) -> bool:
    found = await db.scalar(
        select(ConversationMember.person_id).where(
            ConversationMember.conversation_id == conversation_id,
            ConversationMember.person_id == person_id,
        )
    )
    return found is not None


async def is_consultation_conversation(db: AsyncSession, conversation_id: int) -> bool:
    found = await db.scalar(
        select(Consultation.id).where(Consultation.conversation_id == conversation_id).limit(1)
    )
    return found is not None


async def get_conversation(db: AsyncSession, conversation_id: int) -> Conversation | None:
    return await db.get(Conversation, conversation_id)


async def direct_conversation(db: AsyncSession, key: str) -> Conversation | None:
    result: Conversation | None = await db.scalar(
        select(Conversation).where(Conversation.direct_key == key)
    )
    return result


async def create_conversation(
    db: AsyncSession,
    kind: str,
    title: str,
    direct_key: str | None,
    creator_id: int,
    members: list[int],
    now: datetime,
) -> Conversation:
    conversation = Conversation(
        kind=kind,
        title=title,
        direct_key=direct_key,
        created_at=now,
        created_by=creator_id,
        last_seq=0,
    )
    db.add(conversation)
    await db.flush()
    for person_id in sorted(set(members)):
        db.add(
            ConversationMember(
                conversation_id=conversation.id, person_id=person_id, last_read_seq=0, joined_at=now
            )
        )
    await db.flush()
    return conversation


async def add_member(
    db: AsyncSession, conversation: Conversation, person_id: int, now: datetime
) -> None:
    # A newcomer starts with everything already sent counted as read.
    db.add(
        ConversationMember(
            conversation_id=conversation.id,
            person_id=person_id,
            last_read_seq=conversation.last_seq,
            joined_at=now,
        )
    )
    await db.flush()


async def remove_member(db: AsyncSession, conversation_id: int, person_id: int) -> None:
    await db.execute(
        delete(ConversationMember).where(
            ConversationMember.conversation_id == conversation_id,
            ConversationMember.person_id == person_id,
        )
    )


@dataclass(frozen=True, slots=True)
class ConversationRow:
    """A conversation of a person as stored: its members' read markers, the person's own,
    and its newest message (services shape it)."""

    conversation: Conversation
    last_read_seq: int
    members: list[tuple[int, int]]
    last_message: Message | None


async def conversation_rows(
    db: AsyncSession, person_id: int, only: int | None = None
) -> list[ConversationRow]:
    """The person's conversations with members (by person id), their read marker and the
    last message; most recent activity first, those without messages last."""
    query = (
        select(Conversation, ConversationMember.last_read_seq)
        .join(ConversationMember, ConversationMember.conversation_id == Conversation.id)
        .where(ConversationMember.person_id == person_id)
    )
    if only is not None:
        query = query.where(Conversation.id == only)
    rows = (await db.execute(query)).all()
    if not rows:
        return []
    ids = [c.id for c, _ in rows]
    members: dict[int, list[tuple[int, int]]] = {}
    member_rows = await db.execute(
        select(
            ConversationMember.conversation_id,
            ConversationMember.person_id,
            ConversationMember.last_read_seq,
        ).where(ConversationMember.conversation_id.in_(ids))
    )
    for cid, pid, read_seq in member_rows.all():
        members.setdefault(cid, []).append((pid, read_seq))
    last_messages: dict[int, Message] = {}
    last_rows = (
        await db.scalars(
            select(Message).where(
                or_(
                    *[
                        and_(Message.conversation_id == c.id, Message.seq == c.last_seq)
                        for c, _ in rows
                        if c.last_seq > 0
                    ]
                )
            )
        )
        if any(c.last_seq > 0 for c, _ in rows)
        else None
    )
    if last_rows is not None:
        for m in last_rows.all():
            last_messages[m.conversation_id] = m
    result = [
        ConversationRow(c, read_seq, sorted(members.get(c.id, [])), last_messages.get(c.id))
        for c, read_seq in rows
    ]
    result.sort(key=_last_activity, reverse=True)
    return result


def _last_activity(row: ConversationRow) -> str:
    last = row.last_message
    return last.created_at.isoformat() if last else ""


async def messages_before(
    db: AsyncSession, conversation_id: int, before_seq: int | None, limit: int
) -> list[Message]:
    query = select(Message).where(Message.conversation_id == conversation_id)
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    rows = (await db.scalars(query.order_by(Message.seq.desc()).limit(limit))).all()
    return list(reversed(rows))


async def messages_after(
    db: AsyncSession, conversation_id: int, after_seq: int, limit: int
) -> list[Message]:
    rows = (
        await db.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.seq > after_seq)
            .order_by(Message.seq)
            .limit(limit)
        )
    ).all()
    return list(rows)


# ---------------------------------------------------------------- ring routing state


async def lock_routing(db: AsyncSession, now: datetime) -> int:
    """Takes the routing lock for this transaction (every node's routing changes take
    turns on its row) and returns the version of the state rows. On SQLite the write
    transaction already holds the database's write lock (BEGIN IMMEDIATE)."""
    version = await db.scalar(
        select(RingRouting.version).where(RingRouting.id == 1).with_for_update()
    )
    if version is None:
        db.add(RingRouting(id=1, version=0, seq=0, updated_at=now))
        await db.flush()
        return 0
    return version


async def claim_deadline(db: AsyncSession, name: str, now: datetime, then: datetime) -> bool:
    """True if the deadline `name` is due and this transaction took it (its next time
    set to `then`); False if it is not due, or another node holds it right now. A
    deadline not seen before is due at once. Commit before doing the work: a node that
    dies in it loses that one run, and no node waits on its lock."""
    await db.execute(
        insert_for(db)(Deadline).values(name=name, due_at=now).on_conflict_do_nothing()
    )
    row = await db.scalar(
        select(Deadline)
        .where(Deadline.name == name, Deadline.due_at <= now)
        .with_for_update(skip_locked=True)
    )
    if row is None:
        return False
    row.due_at = then
    return True


async def set_deadline(db: AsyncSession, name: str, due_at: datetime) -> None:
    """The deadline `name` is next due at `due_at` (written inside the work that moved it)."""
    insert = insert_for(db)
    statement = insert(Deadline).values(name=name, due_at=due_at)
    await db.execute(
        statement.on_conflict_do_update(index_elements=[Deadline.name], set_={"due_at": due_at})
    )


async def deadline_due(db: AsyncSession, name: str) -> datetime | None:
    """When the deadline `name` is next due, as last committed (no lock: a node that
    could not claim it reads when to look again)."""
    return await db.scalar(select(Deadline.due_at).where(Deadline.name == name))


async def drop_deadline(db: AsyncSession, name: str) -> None:
    """The deadline `name` is over (what it timed has ended)."""
    await db.execute(delete(Deadline).where(Deadline.name == name))


async def routing_version(db: AsyncSession) -> int | None:
    """The version of the state rows, without the lock (None before the first change):
    in a snapshot transaction, the version of what `load_routing` then reads."""
    return await db.scalar(select(RingRouting.version).where(RingRouting.id == 1))


async def load_routing(db: AsyncSession) -> rings_domain.RouterParts:
    """The routing state rows, as the router reads them: inside the routing lock, or in
    a snapshot transaction (Sessions.snapshot)."""
    seq = await db.scalar(select(RingRouting.seq).where(RingRouting.id == 1))
    rings = await db.execute(select(RingState.ring_id, RingState.state))
    people = await db.execute(select(RingMemberState.person_id, RingMemberState.state))
    questions = await db.execute(select(RingQuestion.question_id, RingQuestion.state))
    return rings_domain.RouterParts(
        seq=seq or 0,
        rings={ring_id: state for ring_id, state in rings},
        people={person_id: state for person_id, state in people},
        questions={question_id: state for question_id, state in questions},
    )


# Closed questions are marked for this many routing versions: a node further behind
# than that reads every row again instead of the changes.
GONE_KEPT = 10_000


async def load_routing_changes(
    db: AsyncSession, held: int, version: int
) -> rings_domain.RouterChanges | None:
    """The rows written after version `held`, up to `version` (the one the rows are at;
    in the same transaction as `routing_version`): what a node holding `held` applies.
    None when `held` is too old for the marks of closed questions still kept."""
    if version - held > GONE_KEPT:
        return None
    seq = await db.scalar(select(RingRouting.seq).where(RingRouting.id == 1))
    rings = await db.execute(
        select(RingState.ring_id, RingState.state).where(RingState.version > held)
    )
    people = await db.execute(
        select(RingMemberState.person_id, RingMemberState.state).where(
            RingMemberState.version > held
        )
    )
    questions: dict[str, list[dict[str, Any]] | None] = {
        question_id: None
        for (question_id,) in await db.execute(
            select(RingQuestionGone.question_id).where(RingQuestionGone.version > held)
        )
    }
    written = await db.execute(
        select(RingQuestion.question_id, RingQuestion.state).where(RingQuestion.version > held)
    )
    questions.update((question_id, state) for question_id, state in written)
    return rings_domain.RouterChanges(
        seq=seq or 0,
        rings={ring_id: state for ring_id, state in rings},
        people={person_id: state for person_id, state in people},
        questions=questions,
    )


async def save_routing(
    db: AsyncSession, changes: rings_domain.RouterChanges, version: int, now: datetime
) -> None:
    """Writes the pieces that changed (inside the routing lock, which holds `version`)
    as of version + 1, and raises the version to that."""
    written = version + 1
    gone = [k for k, v in changes.questions.items() if v is None]
    questions = {k: v for k, v in changes.questions.items() if v is not None}
    for model, key, pieces in (
        (RingState, RingState.ring_id, changes.rings),
        (RingMemberState, RingMemberState.person_id, changes.people),
        (RingQuestion, RingQuestion.question_id, questions),
    ):
        await _save_pieces(db, model, key, pieces, written)
    insert = insert_for(db)
    if gone:
        await db.execute(delete(RingQuestion).where(RingQuestion.question_id.in_(gone)))
        statement = insert(RingQuestionGone)
        await db.execute(
            statement.on_conflict_do_update(
                index_elements=[RingQuestionGone.question_id],
                set_={"version": statement.excluded.version},
            ),
            [{"question_id": k, "version": written} for k in gone],
        )
    if written % 100 == 0:
        await db.execute(
            delete(RingQuestionGone).where(RingQuestionGone.version <= written - GONE_KEPT)
        )
    await db.execute(
        update(RingRouting)
        .where(RingRouting.id == 1)
        .values(version=written, seq=changes.seq, updated_at=now)
    )


async def _save_pieces(
    db: AsyncSession, model: Any, key: Any, pieces: Mapping[Any, Any], version: int
) -> None:
    if not pieces:
        return
    statement = insert_for(db)(model)
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=[key],
            set_={"state": statement.excluded.state, "version": statement.excluded.version},
        ),
        [{key.key: k, "state": v, "version": version} for k, v in pieces.items()],
    )


async def accept_consultation(
    db: AsyncSession, question_id: str, expert_id: int, now: datetime
) -> bool:
    """Opens a waiting question's consultation with this expert; False if it is not
    waiting any more. The database's own answer: of two accepts of one question, only
    one changes the row, whatever each node believed."""
    result = await db.execute(
        update(Consultation)
        .where(
            Consultation.question_id == question_id,
            Consultation.state == "waiting",
            Consultation.expert_id.is_(None),
        )
        .values(state="open", expert_id=expert_id, accepted_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def question_state(
    db: AsyncSession, question_id: str, asker_id: int | None = None
) -> str | None:
    """The state of a question's record (None: no such question, or not this asker's)."""
    query = select(Consultation.state).where(Consultation.question_id == question_id)
    if asker_id is not None:
        query = query.where(Consultation.asker_id == asker_id)
    return await db.scalar(query)
