"""Directory import: an administrator's CSV or XLSX list becomes organisations, units and people.

All or nothing: a file with any error changes nothing, and every error is reported
at once so the file can be fixed in one go. The import adds and updates; people
absent from the file are NOT deleted or disabled (a partial list, e.g. one team's,
must not wipe the rest of the directory; leavers are handled by disabling accounts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liaison.domain.directory import (
    ImportFileError,
    PersonRow,
    RowError,
    read_table,
    validate_rows,
)
from liaison.store.db import Sessions
from liaison.store.models import Organisation, Person, Unit
from liaison.store.repositories import search_text_for

__all__ = ["ImportReport", "import_directory"]

# Person fields an import column sets directly (organisation and unit are resolved to ids).
_PLAIN_FIELDS = (
    "first_name",
    "last_name",
    "title",
    "roles",
    "benefits",
    "languages",
    "work_phone",
    "ask_me_about",
    "tags",
)


@dataclass
class ImportReport:
    """What an import did, or in a dry run would do.

    ``created``/``updated``/``unchanged`` count the file's valid rows, also when
    other rows have errors or in a dry run; ``applied`` says whether anything was
    written. A file that cannot be read at all is one error on line 0.
    """

    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    organisations_created: list[str] = field(default_factory=list)
    units_created: list[str] = field(default_factory=list)
    # Existing units whose area the file changed.
    units_updated: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    applied: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "organisations_created": list(self.organisations_created),
            "units_created": list(self.units_created),
            "units_updated": list(self.units_updated),
            "errors": [e.to_dict() for e in self.errors],
            "applied": self.applied,
        }


async def import_directory(db: Sessions, filename: str, data: bytes, dry_run: bool) -> ImportReport:
    """Reads, checks and (unless ``dry_run`` or any error) applies a directory file.

    Never raises for a bad file: an ImportFileError becomes a single RowError on
    line 0, so callers only show ``report.errors``. The work runs in one transaction
    that is committed only when the file is clean and this is not a dry run, so a
    dry run reports exactly what a real import would do.
    """
    report = ImportReport(dry_run=dry_run)
    try:
        table = read_table(filename, data)
    except ImportFileError as exc:
        report.errors.append(RowError(0, None, str(exc)))
        return report
    report.rows = len(table)

    async with db.writer() as session:
        organisations = {
            o.name.casefold(): o for o in (await session.scalars(select(Organisation)))
        }
        units = {
            (u.organisation_id, u.name.casefold()): u for u in (await session.scalars(select(Unit)))
        }
        by_id = {o.id: o for o in organisations.values()}
        unit_kinds = {(by_id[org_id].name, u.name): u.kind for (org_id, _), u in units.items()}
        rows, errors = validate_rows(
            table, {o.name: o.kind for o in organisations.values()}, unit_kinds
        )
        report.errors = errors
        await _apply(session, rows, organisations, units, report)
        if errors or dry_run:
            # Leaving the session without commit rolls everything back.
            await session.rollback()
            return report
        try:
            await session.commit()
        except IntegrityError:
            # Another import or an edit created the same email, organisation or unit meanwhile.
            await session.rollback()
            report.errors.append(
                RowError(0, None, "the directory changed during the import; import the file again")
            )
            return report
    report.applied = True
    return report


async def _apply(
    session: AsyncSession,
    rows: list[PersonRow],
    organisations: dict[str, Organisation],
    units: dict[tuple[int, str], Unit],
    report: ImportReport,
) -> None:
    """Writes the rows into the session (not committed) and counts what changed."""
    # Emails are matched case-insensitively; the rows' emails are already lower-cased.
    people = {p.email.lower(): p for p in (await session.scalars(select(Person)))}
    unit_by_id = {u.id: u for u in units.values()}
    changed_units: set[int] = set()

    for row in rows:
        org = organisations.get(row.organisation.casefold())
        if org is None:
            org = Organisation(name=row.organisation, kind=row.organisation_kind)
            session.add(org)
            await session.flush()
            organisations[org.name.casefold()] = org
            report.organisations_created.append(org.name)
        unit: Unit | None = None
        if row.unit:
            unit = units.get((org.id, row.unit.casefold()))
            if unit is None:
                unit = Unit(
                    organisation_id=org.id, name=row.unit, kind=row.unit_kind, area=row.area
                )
                session.add(unit)
                await session.flush()
                units[(org.id, unit.name.casefold())] = unit
                unit_by_id[unit.id] = unit
                report.units_created.append(f"{org.name}: {unit.name}")
            elif row.area and row.area != unit.area:
                # An empty area cell never clears a unit's area: other rows may omit it.
                unit.area = row.area
                changed_units.add(unit.id)
                label = f"{org.name}: {unit.name}"
                if label not in report.units_updated:
                    report.units_updated.append(label)

        person = people.get(row.email)
        if person is None:
            person = Person(
                email=row.email,
                organisation_id=org.id,
                unit_id=unit.id if unit else None,
                photo_version=0,
                **{name: _value(row, name) for name in _PLAIN_FIELDS},
            )
            session.add(person)
            people[row.email] = person
            report.created += 1
        elif _update(person, row, org, unit):
            report.updated += 1
        else:
            report.unchanged += 1
        # Without a unit column the person keeps their unit, which the text must name.
        current_unit = unit_by_id.get(person.unit_id) if person.unit_id else None
        person.search_text = search_text_for(person, org, current_unit)

    await session.flush()
    if changed_units:
        # The unit's area is in its members' search text, also of people not in the file.
        by_org = {o.id: o for o in organisations.values()}
        members = await session.scalars(select(Person).where(Person.unit_id.in_(changed_units)))
        for member in members:
            assert member.unit_id is not None
            member.search_text = search_text_for(
                member, by_org[member.organisation_id], unit_by_id[member.unit_id]
            )
        await session.flush()


def _value(row: PersonRow, name: str) -> Any:
    value = getattr(row, name)
    # Fresh lists: the JSON columns must not share a list with the row.
    return list(value) if isinstance(value, list) else value


def _update(person: Person, row: PersonRow, org: Organisation, unit: Unit | None) -> bool:
    """Sets the fields the file has; True when any of them changed."""
    changed = False
    for name in _PLAIN_FIELDS:
        # A column the file lacks keeps the person's value; an empty cell clears it.
        if name not in row.columns:
            continue
        value = _value(row, name)
        if getattr(person, name) != value:
            setattr(person, name, value)
            changed = True
    if person.organisation_id != org.id:
        person.organisation_id = org.id
        changed = True
        if "unit" not in row.columns:
            # The old unit belongs to the old organisation.
            person.unit_id = None
    if "unit" in row.columns:
        unit_id = unit.id if unit else None
        if person.unit_id != unit_id:
            person.unit_id = unit_id
            changed = True
    return changed
