"""Directory import: an administrator's CSV or XLSX list becomes organisations, units and people.

All or nothing: a file with any error changes nothing, and every error is reported
at once so the file can be fixed in one go. The import adds and updates; people
absent from the file are NOT deleted or disabled (a partial list, e.g. one team's,
must not wipe the rest of the directory; leavers are handled by disabling accounts).

With ``limits`` the file is read and checked in a child process within a time and
memory budget (``liaison.services.import_reader``), so the server's event loop never
parses; the write stays here, flushed in batches.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liaison.domain.directory import N_, ImportFileError, PersonRow, RowError, match_key
from liaison.domain.identity import redact_identity_codes
from liaison.protocol import people as shapes
from liaison.services import import_reader
from liaison.services.import_reader import ParsedFile, ReadLimits
from liaison.store.db import Sessions
from liaison.store.models import Organisation, Person, Unit
from liaison.store.repositories import search_text_for

__all__ = ["ImportReport", "ReadLimits", "import_directory"]

# Rows written per flush: the ORM's work per flush stays short, and each flush gives
# the event loop back to other requests.
WRITE_BATCH = 500
CHANGED_DURING_IMPORT = N_("the directory changed during the import; import the file again")

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
    # What reading the file skipped or filled (see liaison.domain.directory.Table).
    sheet: str | None = None
    hidden_sheets: list[str] = field(default_factory=list)
    header_line: int = 0
    skipped_lines: list[int] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    merged_ranges: int = 0

    def shape(self) -> shapes.ImportReport:
        """The report as the API answers it."""
        return shapes.ImportReport(
            dry_run=self.dry_run,
            sheet=self.sheet,
            hidden_sheets=list(self.hidden_sheets),
            header_line=self.header_line,
            skipped_lines=list(self.skipped_lines),
            ignored_columns=list(self.ignored_columns),
            merged_ranges=self.merged_ranges,
            rows=self.rows,
            created=self.created,
            updated=self.updated,
            unchanged=self.unchanged,
            organisations_created=list(self.organisations_created),
            units_created=list(self.units_created),
            units_updated=list(self.units_updated),
            errors=[
                shapes.RowError(
                    line=e.line,
                    column=e.column,
                    reason=e.reason,
                    message=e.message,
                    values=dict(e.values),
                )
                for e in self.errors
            ],
            applied=self.applied,
        )


async def import_directory(
    db: Sessions,
    filename: str,
    data: bytes,
    dry_run: bool,
    *,
    sheet: str | None = None,
    limits: ReadLimits | None = None,
) -> ImportReport:
    """Reads, checks and (unless ``dry_run`` or any error) applies a directory file.

    Never raises for a bad file: an ImportFileError becomes a single RowError on
    line 0, so callers only show ``report.errors``. With ``limits`` the file is read
    in a child process within that budget (for files from users); without, here.
    The write runs in one transaction that is committed only when the file is clean
    and this is not a dry run, so a dry run reports exactly what an import would do.
    """
    report = ImportReport(dry_run=dry_run)
    async with db() as session:
        organisations = list(await session.scalars(select(Organisation)))
        units = list(await session.scalars(select(Unit)))
    by_id = {o.id: o for o in organisations}
    org_kinds = {o.name: o.kind for o in organisations}
    unit_kinds = {(by_id[u.organisation_id].name, u.name): u.kind for u in units}
    try:
        if limits is None:
            parsed = import_reader.parse_file(filename, data, sheet, org_kinds, unit_kinds)
        else:
            parsed = await asyncio.to_thread(
                import_reader.read_in_child, limits, filename, data, sheet, org_kinds, unit_kinds
            )
    except ImportFileError as exc:
        # The values may name the sheet the admin typed, or the file's own sheets.
        error = RowError.of_file(exc)
        values = {name: _without_codes(value) for name, value in error.values.items()}
        report.errors.append(RowError(0, None, error.message, values))
        return report
    _notes(report, parsed)
    report.errors = parsed.errors

    async with db.writer() as session:
        current_orgs = {match_key(o.name): o for o in (await session.scalars(select(Organisation)))}
        current_units = {
            (u.organisation_id, match_key(u.name)): u for u in (await session.scalars(select(Unit)))
        }
        if _kinds_changed(current_orgs, current_units, org_kinds, unit_kinds):
            # The file was checked against kinds that another change has since altered.
            report.errors.append(RowError(0, None, CHANGED_DURING_IMPORT))
            return report
        await _apply(session, parsed.valid, current_orgs, current_units, report)
        if report.errors or dry_run:
            # Leaving the session without commit rolls everything back.
            await session.rollback()
            return report
        try:
            await session.commit()
        except IntegrityError:
            # Another import or an edit created the same email, organisation or unit meanwhile.
            await session.rollback()
            report.errors.append(RowError(0, None, CHANGED_DURING_IMPORT))
            return report
    report.applied = True
    return report


def _without_codes(text: str) -> str:
    return redact_identity_codes(text, None)[0]


def _notes(report: ImportReport, parsed: ParsedFile) -> None:
    table = parsed.table
    report.rows = parsed.rows
    # Sheet and column names are the file's text, sent back to the admin: no identity
    # code in them goes out in clear (docs/consultations.md, "Client data").
    report.sheet = _without_codes(table.sheet) if table.sheet else table.sheet
    report.hidden_sheets = [_without_codes(name) for name in table.hidden_sheets]
    report.header_line = table.header_line
    report.skipped_lines = list(table.skipped_lines)
    report.ignored_columns = [_without_codes(name) for name in table.ignored_columns]
    report.merged_ranges = table.merged_ranges


def _kinds_changed(
    organisations: dict[str, Organisation],
    units: dict[tuple[int, str], Unit],
    org_kinds: dict[str, str],
    unit_kinds: dict[tuple[str, str], str],
) -> bool:
    by_id = {o.id: o for o in organisations.values()}
    now_orgs = {o.name: o.kind for o in organisations.values()}
    now_units = {(by_id[u.organisation_id].name, u.name): u.kind for u in units.values()}
    return now_orgs != org_kinds or now_units != unit_kinds


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
    written = 0
    unit_by_id = {u.id: u for u in units.values()}
    changed_units: set[int] = set()

    for row in rows:
        org = organisations.get(match_key(row.organisation))
        if org is None:
            org = Organisation(name=row.organisation, kind=row.organisation_kind)
            session.add(org)
            await session.flush()
            organisations[match_key(org.name)] = org
            report.organisations_created.append(org.name)
        unit: Unit | None = None
        if row.unit:
            unit = units.get((org.id, match_key(row.unit)))
            if unit is None:
                unit = Unit(
                    organisation_id=org.id, name=row.unit, kind=row.unit_kind, area=row.area
                )
                session.add(unit)
                await session.flush()
                units[(org.id, match_key(unit.name))] = unit
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
        written += 1
        if written % WRITE_BATCH == 0:
            await session.flush()

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
