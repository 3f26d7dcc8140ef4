"""The staff directory's vocabulary and the import file format (CSV or XLSX).

Pure: this module parses the bytes it is given and checks rows; the service in
``liaison.services.directory_import`` looks at the database and writes.

The file has a header row, possibly below a title block; column names are
case-insensitive and may be given in English, Finnish or Swedish, see
``COLUMN_ALIASES`` and docs/directory.md (the format as users read it):

=================== ======================================================
column              meaning
=================== ======================================================
email               required; the key: a person with that email is updated
first_name          required
last_name           required
title               job title, free text
organisation        required; created when new
organisation_kind   ``kela`` or ``social_services``; required for a new one
unit                team, district, county or municipality; created when new
unit_kind           see ``UNIT_KINDS``; required for a new unit
area                the unit's area (e.g. the wellbeing services county)
roles               see ``ROLES``; several separated by ";" or ","
benefits            see ``BENEFITS``; several
languages           two-letter codes (fi, sv, en); several
work_phone          a phone number: see ``is_phone_number``
ask_me_about        free text
tags                expertise keywords; several
=================== ======================================================

Roles, benefits and kinds accept Finnish (and some Swedish) words too, e.g.
"ratkaisuasiantuntija", "yleinen asumistuki", "kunta".
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Protocol

from liaison.domain import vocabulary
from liaison.domain.identity import find_identity_codes, redact_identity_codes

__all__ = [
    "BENEFITS",
    "COLUMNS",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "ORGANISATION_KINDS",
    "REQUIRED_COLUMNS",
    "ROLES",
    "UNIT_KINDS",
    "ImportFileError",
    "PersonRow",
    "RowError",
    "Table",
    "match_key",
    "normalise_benefit",
    "normalise_role",
    "read_sheet",
    "read_table",
    "validate_rows",
]

ROLES = (
    "service_specialist",
    "decision_expert",
    "municipal_liaison",
    "social_worker",
    "supervisor",
    "admin",
)


def N_(message: str) -> str:
    """Marks a message for the catalogs (scripts/translations extracts N_); it is
    translated where it is shown, in the reader's language, with its values filled in."""
    return message


BENEFITS = (
    "basic_social_assistance",
    "housing_allowance",
    "unemployment_security",
    "pensioners_housing_allowance",
    "sickness_allowance",
    "rehabilitation",
    "child_benefits",
    "student_financial_aid",
)
ORGANISATION_KINDS = vocabulary.values(vocabulary.OrganisationKind)
UNIT_KINDS = vocabulary.values(vocabulary.UnitKind)

COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "title",
    "organisation",
    "organisation_kind",
    "unit",
    "unit_kind",
    "area",
    "roles",
    "benefits",
    "languages",
    "work_phone",
    "ask_me_about",
    "tags",
)
REQUIRED_COLUMNS = ("email", "first_name", "last_name", "organisation")
MULTI_VALUED = ("roles", "benefits", "languages", "tags")

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20000
# Cells right of this column are not read; a header is looked for in this many rows.
MAX_COLUMNS = 100
HEADER_SEARCH_ROWS = 20
MAX_MERGED_RANGES = 10000

# Column sizes of liaison.store.models; ask_me_about and tags are Text/JSON there,
# so their limits only keep a profile readable.
MAX_LENGTHS: dict[str, int] = {
    "email": 254,
    "first_name": 100,
    "last_name": 100,
    "title": 200,
    "organisation": 200,
    "unit": 200,
    "area": 200,
    "work_phone": 50,
    "ask_me_about": 2000,
}
MAX_TAG_CHARS = 60
MAX_TAGS = 30


def _key(text: str) -> str:
    """Comparison form of a header or vocabulary word: case, accents, "_", "-" and spacing
    ignored, so "Etuuskasittelija" typed without ä and ö still matches."""
    plain = "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )
    return " ".join(plain.replace("_", " ").replace("-", " ").casefold().split())


def _aliases(table: Mapping[str, Iterable[str]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for canonical, words in table.items():
        for word in (canonical, *words):
            result[_key(word)] = canonical
    return result


_COLUMN_ALIASES = _aliases(
    {
        "email": (
            "e-mail",
            "email address",
            "sähköposti",
            "sähköpostiosoite",
            "sposti",
            "e-post",
            "e-postadress",
        ),
        "first_name": ("first name", "given name", "etunimi", "etunimet", "förnamn"),
        "last_name": ("last name", "surname", "family name", "sukunimi", "efternamn"),
        "title": ("job title", "nimike", "tehtävänimike", "titteli", "tehtävä", "titel"),
        "organisation": ("organization", "organisaatio", "organisation name", "organisation"),
        "organisation_kind": (
            "organization kind",
            "organisation type",
            "organization type",
            "organisaation tyyppi",
            "organisaatiotyyppi",
            "organisaation laji",
            "organisationstyp",
            "typ av organisation",
        ),
        "unit": ("team", "yksikkö", "tiimi", "enhet"),
        "unit_kind": (
            "unit type",
            "yksikön tyyppi",
            "yksikkötyyppi",
            "yksikön laji",
            "enhetstyp",
            "typ av enhet",
        ),
        "area": ("region", "alue", "toimialue", "område"),
        "roles": ("role", "rooli", "roolit", "roll", "roller"),
        "benefits": ("benefit", "etuus", "etuudet", "förmån", "förmåner"),
        "languages": ("language", "kieli", "kielet", "språk"),
        "work_phone": (
            "phone",
            "telephone",
            "työpuhelin",
            "puhelin",
            "puhelinnumero",
            "telefon",
            "arbetstelefon",
        ),
        "ask_me_about": ("ask me about", "kysy minulta", "osaaminen", "fråga mig om"),
        "tags": ("tag", "tunnisteet", "asiasanat", "avainsanat", "taggar", "nyckelord"),
    }
)
COLUMN_ALIASES: Mapping[str, str] = _COLUMN_ALIASES

_ROLE_ALIASES = _aliases(
    {
        "service_specialist": ("palveluasiantuntija", "palveluneuvoja", "servicesakkunnig"),
        "decision_expert": (
            "ratkaisuasiantuntija",
            "etuuskäsittelijä",
            "benefit handler",
            "förmånshandläggare",
        ),
        "municipal_liaison": ("kuntayhteyshenkilö", "kunta yhteyshenkilö", "kommunkontaktperson"),
        "social_worker": (
            "sosiaalityöntekijä",
            "sosiaaliohjaaja",
            "vastuutyöntekijä",
            "social instructor",
            "socialarbetare",
            "socialhandledare",
        ),
        "supervisor": ("esihenkilö", "esimies", "tiiminvetäjä", "team lead", "förman", "chef"),
        "admin": ("pääkäyttäjä", "ylläpitäjä", "administrator", "huvudanvändare"),
    }
)
_BENEFIT_ALIASES = _aliases(
    {
        "basic_social_assistance": (
            "perustoimeentulotuki",
            "toimeentulotuki",
            "grundläggande utkomststöd",
            "utkomststöd",
        ),
        "housing_allowance": (
            "yleinen asumistuki",
            "asumistuki",
            "general housing allowance",
            "allmänt bostadsbidrag",
            "bostadsbidrag",
        ),
        "unemployment_security": (
            "työttömyysturva",
            "työmarkkinatuki",
            "peruspäiväraha",
            "utkomstskydd för arbetslösa",
            "arbetslöshetsskydd",
        ),
        "pensioners_housing_allowance": (
            "eläkkeensaajan asumistuki",
            "eläkkeensaajien asumistuki",
            "bostadsbidrag för pensionstagare",
        ),
        "sickness_allowance": ("sairauspäiväraha", "sairausvakuutus", "sjukdagpenning"),
        "rehabilitation": ("kuntoutus", "rehabilitering"),
        "child_benefits": ("lapsilisä", "lapsiperheiden etuudet", "barnbidrag"),
        "student_financial_aid": ("opintotuki", "studiestöd"),
    }
)
_ORGANISATION_KIND_ALIASES = _aliases(
    {
        "kela": ("fpa", "kansaneläkelaitos"),
        "social_services": (
            "sosiaalipalvelut",
            "sosiaalitoimi",
            "hyvinvointialue",
            "kunta",
            "socialtjänst",
        ),
    }
)
_UNIT_KIND_ALIASES = _aliases(
    {
        "insurance_district": ("vakuutuspiiri", "försäkringsdistrikt"),
        "benefit_team": ("etuustiimi", "turvatiimi", "tiimi", "förmånsteam"),
        "customer_service": ("asiakaspalvelu", "palvelupiste", "kundservice"),
        "wellbeing_county": (
            "hyvinvointialue",
            "wellbeing services county",
            "välfärdsområde",
        ),
        "municipality": ("kunta", "kaupunki", "kommun", "stad"),
    }
)
_LANGUAGE_ALIASES = _aliases(
    {
        "fi": ("suomi", "finnish", "finska"),
        "sv": ("ruotsi", "swedish", "svenska"),
        "en": ("englanti", "english", "engelska"),
    }
)


# Reports one problem of the row being checked: (column, reason).
class _Fail(Protocol):
    def __call__(self, column: str | None, message: str, /, **values: object) -> None: ...


class _RowProblems:
    """The problems found in one row: `fail(column, message, **values)` adds one."""

    def __init__(self, line: int) -> None:
        self.line = line
        self.errors: list[RowError] = []

    def __call__(self, column: str | None, message: str, /, **values: object) -> None:
        # Values quote the file's cells back to the admin: never a code among them.
        clean = {k: redact_identity_codes(str(v), None)[0] for k, v in values.items()}
        self.errors.append(RowError(self.line, column, message, clean))


UNREADABLE_TEXT = N_("the file is not readable text: save it as CSV UTF-8 or as .xlsx")
UNREADABLE_EXCEL = N_("the Excel file cannot be read ({detail})")
UNKNOWN_VALUE = N_("unknown value {value} in {column}; known: {known}")
KIND_ON_AN_EARLIER_LINE = N_("{name} is {earlier} on line {line}, not {kind}")

_EMAIL = re.compile(r"[^@\s,;<>()\[\]\\\"]+@[^@\s,;<>()\[\]\\\"]+\.[^@\s,;<>()\[\]\\\".]+")
# A phone number as people write them: "+358 20 634 9001", "040-123 4567", "(09) 1234 5678",
# "+358 (0)40 123 4567": an optional "+", digits in groups separated by one space or
# hyphen, at most one group in parentheses.
_PHONE = re.compile(r"\+?(?:\(\d{1,4}\)|\d)(?:(?: ?- ?| )?(?:\(\d{1,4}\)|\d))*", re.ASCII)
PHONE_DIGITS = (6, 15)  # E.164 allows 15
PHONE_RULE = N_(
    "a phone number has 6 to 15 digits in groups separated by spaces or hyphens, "
    "optionally a leading + and one group in parentheses"
)


def is_phone_number(text: str) -> bool:
    """A plausible phone number, and not a personal identity code written like one."""
    digits = sum(ch.isdigit() for ch in text)
    return (
        _PHONE.fullmatch(text) is not None
        and text.count("(") <= 1
        and PHONE_DIGITS[0] <= digits <= PHONE_DIGITS[1]
        and not find_identity_codes(text)
    )


_SPLIT = re.compile(r"[;,]")


def match_key(text: str) -> str:
    """Comparison form of a name (an area, an organisation): NFKC, Unicode case folding
    and spacing, so "ÖSTERBOTTEN" is "Österbotten" and "STRASSE" is "Straße". Kept in
    key columns computed here, so SQLite (whose lower() folds only ASCII) and PostgreSQL
    compare alike."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def fold(text: str) -> str:
    """Search form of any text: what `_key` does, so "jaaskelainen" finds "Jääskeläinen"."""
    return _key(text)


def vocabulary_words(code: str) -> list[str]:
    """Every name a role or benefit code is known by (Finnish, Swedish, English), folded."""
    return [w for w, c in (*_ROLE_ALIASES.items(), *_BENEFIT_ALIASES.items()) if c == code]


def normalise_role(value: str) -> str | None:
    """The canonical role for an English or Finnish word, or None."""
    return _ROLE_ALIASES.get(_key(value))


def normalise_benefit(value: str) -> str | None:
    """The canonical benefit for an English or Finnish word, or None."""
    return _BENEFIT_ALIASES.get(_key(value))


class ImportFileError(ValueError):
    """The file as a whole cannot be read; the message says why, for the person importing.

    `message` is an English template (the catalogs' id) and `values` fill it in; the
    exception's text is the English sentence."""

    def __init__(self, message: str, **values: object) -> None:
        self.message = message
        self.values = {name: str(value) for name, value in values.items()}
        super().__init__(message.format(**self.values))


@dataclass(frozen=True)
class RowError:
    """One problem in one row (line 0: the file as a whole). Lines are as in Excel.

    `message` is an English template (the catalogs' id), `values` fill it in: the
    workspace shows it in the reader's language, `reason` is the English sentence."""

    line: int
    column: str | None
    message: str
    values: dict[str, str] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return self.message.format(**self.values)

    @classmethod
    def of_file(cls, error: ImportFileError) -> RowError:
        """The file's problem as the one error on line 0."""
        return cls(0, None, error.message, error.values)


@dataclass
class PersonRow:
    """A valid row, normalised. Empty strings and lists mean "not given".

    ``organisation_kind`` and ``unit_kind`` are resolved: taken from this row, another
    row naming the same organisation or unit, or the existing database entry.
    ``columns`` are the columns the file has: a column the file lacks leaves that
    field of an existing person as it was.
    """

    line: int
    email: str
    first_name: str
    last_name: str
    title: str
    organisation: str
    organisation_kind: str
    unit: str
    unit_kind: str
    area: str
    roles: list[str] = field(default_factory=list)
    benefits: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    work_phone: str = ""
    ask_me_about: str = ""
    tags: list[str] = field(default_factory=list)
    columns: frozenset[str] = frozenset()


# ---------------------------------------------------------------- reading


@dataclass
class Table:
    """What ``read_sheet`` found: the rows, and what it skipped on the way (for the report).

    ``rows`` are ``(line, {canonical column: text})``; ``skipped_lines`` are the
    non-empty lines above the header (a title block); ``ignored_columns`` the header
    texts that name no known column (their cells are not read); ``sheet`` the
    worksheet read and ``hidden_sheets`` those skipped; ``merged_ranges`` how many
    merged cell ranges were filled with their value.
    """

    rows: list[tuple[int, dict[str, str]]]
    header_line: int = 1
    columns: list[str] = field(default_factory=list)
    skipped_lines: list[int] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    sheet: str | None = None
    hidden_sheets: list[str] = field(default_factory=list)
    merged_ranges: int = 0


def read_table(filename: str, data: bytes) -> list[tuple[int, dict[str, str]]]:
    """The rows of ``read_sheet``: ``(line, {canonical column: text})``."""
    return read_sheet(filename, data).rows


def read_sheet(
    filename: str, data: bytes, sheet: str | None = None, max_bytes: int = MAX_FILE_BYTES
) -> Table:
    """Rows of a CSV or XLSX file as ``(line, {canonical column: text})``, and notes.

    The line is what the user sees in Excel or an editor: each record counts one line.
    The header is the first of the first ``HEADER_SEARCH_ROWS`` non-empty rows that
    names at least two known columns (lines above it, a title block, are skipped and
    reported); when none does, the first non-empty row is the header. Every row has
    every known column of the header, empty cells as "". Completely empty rows are
    skipped; cells under a column with no header name, or an unknown one, are ignored
    (unknown names are reported).

    An XLSX workbook is read from the sheet named ``sheet`` (any case) or else its
    active sheet when visible, else its first visible sheet. The size the sheet claims
    for itself is ignored: cells are read as they come, at most ``MAX_COLUMNS`` wide,
    and reading stops at the row limit. Merged cells take the value of their top-left
    cell (an organisation written once beside its people fills down).

    Raises ImportFileError for an unknown extension, an unreadable file, a file
    without a header, repeated column names, missing required columns, more than
    MAX_ROWS data rows or more than ``max_bytes``.
    """
    if len(data) > max_bytes:
        raise ImportFileError(
            N_("the file is {size} MB; the limit is {limit} MB"),
            size=f"{len(data) / 1024 / 1024:.1f}",
            limit=f"{max_bytes / 1024 / 1024:g}",
        )
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    table = Table(rows=[])
    if extension in ("csv", "txt", "tsv"):
        if data.startswith(b"PK\x03\x04"):
            raise ImportFileError(N_("the file is an Excel workbook: give it the .xlsx extension"))
        _rows_from_records(_csv_records(data), table)
    elif extension in ("xlsx", "xlsm"):
        _read_xlsx(data, sheet, table)
    elif extension == "xls":
        raise ImportFileError(N_("old Excel files (.xls) are not supported: save as .xlsx or CSV"))
    else:
        raise ImportFileError(N_("unknown file type: give a .csv or .xlsx file"))
    return table


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # Excel on Windows saves "CSV (semicolon separated)" in the ANSI code page.
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise ImportFileError(UNREADABLE_TEXT) from None


def _sniff_delimiter(text: str) -> str:
    """The most frequent of ";", "," and tab on the first non-empty line, outside quotes."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = dict.fromkeys((";", ",", "\t"), 0)
    quoted = False
    for ch in first:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: counts[d])
    # Finnish Excel writes ";"; with a one-column file any choice reads the same.
    return best if counts[best] else ";"


def _csv_records(data: bytes) -> Iterable[list[str]]:
    text = _decode(data)
    if "\x00" in text:
        raise ImportFileError(UNREADABLE_TEXT)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    try:
        # Materialised here so a csv.Error surfaces as an ImportFileError; the size
        # limit already bounds the memory this takes.
        return list(reader)
    except csv.Error as exc:
        raise ImportFileError(N_("the CSV file cannot be read: {detail}"), detail=exc) from None


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        # Phone numbers typed into a number cell come back as floats or ints.
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _read_xlsx(data: bytes, sheet: str | None, table: Table) -> None:
    import openpyxl  # imported late: only XLSX imports pay for it

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except MemoryError:
        raise  # the reader's memory budget, not a damaged file: said as such by the caller
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        _raise_if_out_of_memory(exc)
        raise ImportFileError(UNREADABLE_EXCEL, detail=type(exc).__name__) from None
    try:
        worksheet = _choose_sheet(workbook, sheet)
        table.sheet = worksheet.title
        table.hidden_sheets = [
            ws.title
            for ws in workbook.worksheets
            if ws.sheet_state != "visible" and ws is not worksheet
        ]
        merged = _merged_ranges(workbook, worksheet)
        table.merged_ranges = len(merged)
        _rows_from_records(_sheet_records(worksheet, merged), table)
    except ImportFileError:
        raise
    except MemoryError:
        raise
    except Exception as exc:
        _raise_if_out_of_memory(exc)
        raise ImportFileError(UNREADABLE_EXCEL, detail=type(exc).__name__) from None
    finally:
        workbook.close()


# expat's error code for running out of memory (XML_ERROR_NO_MEMORY).
_EXPAT_NO_MEMORY = 1


def _raise_if_out_of_memory(exc: Exception) -> None:
    """The XML parser reports the memory cap as a parse error of its own: a MemoryError."""
    if isinstance(exc, SyntaxError) and getattr(exc, "code", None) == _EXPAT_NO_MEMORY:
        raise MemoryError from None


def _choose_sheet(workbook: Any, name: str | None) -> Any:
    """The named worksheet, else the active one when visible, else the first visible one."""
    worksheets = list(workbook.worksheets)
    if name:
        for ws in worksheets:
            if _key(ws.title) == _key(name):
                return ws
        raise ImportFileError(
            N_("the workbook has no sheet {sheet}; its sheets are {sheets}"),
            sheet=repr(name[:100]),
            sheets=", ".join(repr(ws.title) for ws in worksheets),
        )
    active = workbook.active
    if active in worksheets and active.sheet_state == "visible":
        return active
    for ws in worksheets:
        if ws.sheet_state == "visible":
            return ws
    raise ImportFileError(N_("the Excel file has no visible worksheet"))


def _merged_ranges(workbook: Any, worksheet: Any) -> list[tuple[int, int, int, int]]:
    """The sheet's merged ranges as (first column, first row, last column, last row).

    openpyxl's read-only mode does not read them, so the sheet's XML is streamed once
    more; rows are dropped as they end so memory stays flat however long the sheet.
    """
    from xml.etree.ElementTree import iterparse

    from openpyxl.utils.cell import range_boundaries

    ranges: list[tuple[int, int, int, int]] = []
    sheet_data = None
    with workbook._archive.open(worksheet._worksheet_path) as source:
        # Expat (2.4.1 and later) bounds entity expansion and ElementTree never fetches
        # external entities; the reader also runs in a memory-capped child process.
        for event, element in iterparse(source, events=("start", "end")):  # noqa: S314
            tag = element.tag.rsplit("}", 1)[-1]
            if event == "start":
                if tag == "sheetData":
                    sheet_data = element
                continue
            if tag == "row" and sheet_data is not None:
                sheet_data.remove(element)
            elif tag == "mergeCell":
                try:
                    first_col, first_row, last_col, last_row = range_boundaries(
                        element.get("ref", "")
                    )
                except (TypeError, ValueError):
                    continue  # a damaged range is not worth refusing the file
                if None in (first_col, first_row, last_col, last_row):
                    continue
                ranges.append((first_col, first_row, last_col, last_row))
                if len(ranges) > MAX_MERGED_RANGES:
                    raise ImportFileError(
                        N_("the sheet has more than {limit} merged cell ranges; unmerge them"),
                        limit=MAX_MERGED_RANGES,
                    )
    return sorted(ranges, key=lambda r: r[1])


def _sheet_records(worksheet: Any, merged: list[tuple[int, int, int, int]]) -> Iterator[list[str]]:
    """The sheet's rows from row 1 as text, with merged ranges filled from their top left."""
    # The dimension the file claims (e.g. A1:XFD1048576) would make openpyxl pad every
    # row to it; without it, rows are as wide as their cells, at most MAX_COLUMNS.
    worksheet.reset_dimensions()
    pending = iter(merged)
    upcoming = next(pending, None)
    active: list[tuple[int, int, int, int, str]] = []  # ranges reached, with their value
    for line, values in enumerate(
        worksheet.iter_rows(min_row=1, min_col=1, max_col=MAX_COLUMNS, values_only=True),
        start=1,
    ):
        row = [_cell_text(v).strip() for v in values]
        while upcoming is not None and upcoming[1] <= line:
            first_col, first_row, last_col, last_row = upcoming
            if first_row == line and first_col <= MAX_COLUMNS:
                value = row[first_col - 1] if first_col <= len(row) else ""
                active.append((first_col, first_row, min(last_col, MAX_COLUMNS), last_row, value))
            upcoming = next(pending, None)
        if active:
            active = [a for a in active if a[3] >= line]
            for first_col, _, last_col, _, value in active:
                if len(row) < last_col:
                    row.extend([""] * (last_col - len(row)))
                for col in range(first_col, last_col + 1):
                    row[col - 1] = value
        while row and not row[-1]:
            row.pop()
        yield row


def _rows_from_records(records: Iterable[list[str]], table: Table) -> None:
    """Fills ``table`` from the records, stopping as soon as the row limit is crossed."""
    header: list[str | None] | None = None
    # Non-empty records before the header was found, while it is being looked for.
    candidates: list[tuple[int, list[str]]] = []
    rows = table.rows
    for line, record in enumerate(records, start=1):
        cells = [c.strip() for c in record]
        if not any(cells):
            continue
        if header is None:
            candidates.append((line, cells))
            if _known_columns(cells) >= 2:
                header = _header(cells, table)
                table.header_line = line
                table.skipped_lines = [n for n, _ in candidates[:-1]]
                candidates = []
            elif len(candidates) >= HEADER_SEARCH_ROWS:
                # No row looks like a header: the first is taken, to say what is wrong.
                header = _header(candidates[0][1], table)
                table.header_line = candidates[0][0]
                for data_line, data_cells in candidates[1:]:
                    rows.append((data_line, _row(header, data_cells)))
                candidates = []
            continue
        rows.append((line, _row(header, cells)))
        if len(rows) > MAX_ROWS:
            raise ImportFileError(
                N_("the file has more than {limit} rows; split it"), limit=MAX_ROWS
            )
    if header is None:
        if not candidates:
            raise ImportFileError(N_("the file is empty: the first row must name the columns"))
        header = _header(candidates[0][1], table)
        table.header_line = candidates[0][0]
        rows.extend((n, _row(header, c)) for n, c in candidates[1:])


def _row(header: list[str | None], cells: list[str]) -> dict[str, str]:
    row = {name: "" for name in header if name}
    for name, value in zip(header, cells, strict=False):
        if name:
            row[name] = value
    return row


def _known_columns(cells: list[str]) -> int:
    return sum(1 for cell in cells if cell and _key(cell) in _COLUMN_ALIASES)


def _header(cells: list[str], table: Table) -> list[str | None]:
    names: list[str | None] = []
    seen: dict[str, str] = {}
    repeated: list[str] = []
    for cell in cells:
        name = _COLUMN_ALIASES.get(_key(cell)) if cell else None
        if cell and name is None:
            # Reported, and its cells are never read (a "hetu" column stays unread).
            table.ignored_columns.append(cell[:100])
        elif name in seen:
            repeated.append(f"{seen[name]!r} and {cell!r}")
            name = None
        elif name:
            seen[name] = cell
        names.append(name)
    if repeated:
        raise ImportFileError(
            N_("the same column is given twice: {columns}"), columns="; ".join(repeated)
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if missing:
        raise ImportFileError(N_("required columns missing: {columns}"), columns=", ".join(missing))
    table.columns = [c for c in COLUMNS if c in seen]
    return names


# ---------------------------------------------------------------- validating


def validate_rows(
    rows: Sequence[tuple[int, Mapping[str, str]]],
    existing_org_kinds: Mapping[str, str],
    existing_unit_kinds: Mapping[tuple[str, str], str] | None = None,
) -> tuple[list[PersonRow], list[RowError]]:
    """Checks and normalises rows from ``read_table``; returns the valid rows and all errors.

    ``existing_org_kinds`` maps organisation names to kinds; ``existing_unit_kinds``
    maps (organisation name, unit name) to unit kinds. Names match case-insensitively.

    Every row is checked, and each problem is one RowError:
    - email, first_name, last_name and organisation are required;
    - an email must look like one, and appear only once in the file (the later
      row is reported, naming the first);
    - roles, benefits, organisation and unit kinds must be known words (English or
      Finnish); languages are two-letter codes (a few language names work too);
    - text must fit the database columns (``MAX_LENGTHS``); a work phone is a phone
      number (``is_phone_number``); no cell may hold a personal identity code;
    - an organisation has one kind: the file may not name two, nor contradict an
      existing organisation; a new organisation needs its kind on at least one row
      (reported on its first row);
    - likewise a unit (within its organisation) has one kind and one area in the
      file, may not contradict an existing unit's kind, and a new unit needs its kind;
    - an area belongs to a unit, so an area without a unit is refused.
    """
    errors: list[RowError] = []
    org_existing = {k.casefold(): v for k, v in existing_org_kinds.items()}
    unit_existing = {
        (o.casefold(), u.casefold()): v for (o, u), v in (existing_unit_kinds or {}).items()
    }
    columns = frozenset(name for _, row in rows for name in row)

    first_email_line: dict[str, int] = {}
    # First line and value per organisation / unit, to spot contradictions between rows.
    org_kind_seen: dict[str, tuple[int, str]] = {}
    org_first_line: dict[str, tuple[int, str]] = {}
    unit_kind_seen: dict[tuple[str, str], tuple[int, str]] = {}
    unit_area_seen: dict[tuple[str, str], tuple[int, str]] = {}
    unit_first_line: dict[tuple[str, str], tuple[int, str]] = {}
    candidates: list[PersonRow] = []
    bad_lines: set[int] = set()

    for line, raw in rows:
        fail = _RowProblems(line)

        cell = {name: " ".join(raw.get(name, "").split()) for name in COLUMNS}
        # Free text keeps its line breaks; only the ends are trimmed.
        cell["ask_me_about"] = raw.get("ask_me_about", "").strip()

        for name in COLUMNS:
            if find_identity_codes(raw.get(name, "")):
                fail(name, N_("holds a personal identity code, which a directory must not"))
        for name in REQUIRED_COLUMNS:
            if not cell[name]:
                fail(name, N_("{column} is required"), column=name)
        for name, limit in MAX_LENGTHS.items():
            if len(cell[name]) > limit:
                fail(
                    name,
                    N_("{column} is {length} characters; the limit is {limit}"),
                    column=name,
                    length=len(cell[name]),
                    limit=limit,
                )

        email = cell["email"].lower()
        if email and len(email) <= MAX_LENGTHS["email"]:
            if not _EMAIL.fullmatch(email):
                fail("email", N_("{value} is not an email address"), value=repr(cell["email"]))
            elif email in first_email_line:
                fail(
                    "email",
                    N_("{value} is already on line {line}"),
                    value=cell["email"],
                    line=first_email_line[email],
                )
            else:
                first_email_line[email] = line

        phone = cell["work_phone"]
        if phone and not is_phone_number(phone):
            fail("work_phone", PHONE_RULE)  # a sentence of its own, translated as one

        roles = _vocabulary(cell["roles"], _ROLE_ALIASES, "roles", ROLES, fail)
        benefits = _vocabulary(cell["benefits"], _BENEFIT_ALIASES, "benefits", BENEFITS, fail)
        languages: list[str] = []
        for value in _split(cell["languages"]):
            code = _LANGUAGE_ALIASES.get(_key(value), value.lower())
            if len(code) != 2 or not code.isascii() or not code.isalpha():
                fail(
                    "languages",
                    N_("{value} is not a two-letter language code such as fi"),
                    value=repr(value),
                )
            elif code not in languages:
                languages.append(code)
        tags = _split(cell["tags"])
        if len(tags) > MAX_TAGS:
            fail("tags", N_("{count} tags; the limit is {limit}"), count=len(tags), limit=MAX_TAGS)
        for tag in tags:
            if len(tag) > MAX_TAG_CHARS:
                fail(
                    "tags",
                    N_("the tag {tag}… is over {limit} characters"),
                    tag=repr(tag[:20]),
                    limit=MAX_TAG_CHARS,
                )

        org_kind = _one_word(
            cell["organisation_kind"],
            _ORGANISATION_KIND_ALIASES,
            "organisation_kind",
            ORGANISATION_KINDS,
            fail,
        )
        unit_kind = _one_word(cell["unit_kind"], _UNIT_KIND_ALIASES, "unit_kind", UNIT_KINDS, fail)

        organisation = cell["organisation"]
        org_key = organisation.casefold()
        if organisation:
            org_first_line.setdefault(org_key, (line, organisation))
            if org_kind:
                known = org_existing.get(org_key)
                earlier = org_kind_seen.get(org_key)
                if known and known != org_kind:
                    fail(
                        "organisation_kind",
                        N_(
                            "{name} already exists as {known}, not {kind}; "
                            "the import does not change an organisation's kind"
                        ),
                        name=organisation,
                        known=known,
                        kind=org_kind,
                    )
                elif earlier and earlier[1] != org_kind:
                    fail(
                        "organisation_kind",
                        KIND_ON_AN_EARLIER_LINE,
                        name=organisation,
                        earlier=earlier[1],
                        line=earlier[0],
                        kind=org_kind,
                    )
                else:
                    org_kind_seen.setdefault(org_key, (line, org_kind))

        unit, area = cell["unit"], cell["area"]
        unit_key = (org_key, unit.casefold())
        if area and not unit:
            fail("area", N_("an area belongs to a unit: give the unit too"))
        if unit and organisation:
            unit_first_line.setdefault(unit_key, (line, unit))
            if unit_kind:
                known = unit_existing.get(unit_key)
                earlier = unit_kind_seen.get(unit_key)
                if known and known != unit_kind:
                    fail(
                        "unit_kind",
                        N_(
                            "{name} already exists as {known}, not {kind}; "
                            "the import does not change a unit's kind"
                        ),
                        name=unit,
                        known=known,
                        kind=unit_kind,
                    )
                elif earlier and earlier[1] != unit_kind:
                    fail(
                        "unit_kind",
                        KIND_ON_AN_EARLIER_LINE,
                        name=unit,
                        earlier=earlier[1],
                        line=earlier[0],
                        kind=unit_kind,
                    )
                else:
                    unit_kind_seen.setdefault(unit_key, (line, unit_kind))
            if area:
                earlier_area = unit_area_seen.get(unit_key)
                if earlier_area and earlier_area[1].casefold() != area.casefold():
                    fail(
                        "area",
                        N_("{unit} has area {area} on line {line}"),
                        unit=unit,
                        area=repr(earlier_area[1]),
                        line=earlier_area[0],
                    )
                else:
                    unit_area_seen.setdefault(unit_key, (line, area))
        elif unit_kind and not unit:
            fail("unit_kind", N_("a unit kind needs a unit"))

        errors.extend(fail.errors)
        if fail.errors:
            bad_lines.add(line)
        candidates.append(
            PersonRow(
                line=line,
                email=email,
                first_name=cell["first_name"],
                last_name=cell["last_name"],
                title=cell["title"],
                organisation=organisation,
                organisation_kind="",
                unit=unit,
                unit_kind="",
                area=area,
                roles=roles,
                benefits=benefits,
                languages=languages,
                work_phone=phone,
                ask_me_about=cell["ask_me_about"],
                tags=tags,
                columns=columns,
            )
        )

    # Kinds must be known for everything the import would create.
    for org_key, (line, name) in org_first_line.items():
        if org_key not in org_existing and org_key not in org_kind_seen:
            errors.append(
                RowError(
                    line,
                    "organisation_kind",
                    N_("{name} is a new organisation: give its kind ({kinds})"),
                    {"name": name, "kinds": ", ".join(ORGANISATION_KINDS)},
                )
            )
            bad_lines.add(line)
    for unit_key, (line, name) in unit_first_line.items():
        if unit_key not in unit_existing and unit_key not in unit_kind_seen:
            errors.append(
                RowError(
                    line,
                    "unit_kind",
                    N_("{name} is a new unit: give its kind ({kinds})"),
                    {"name": name, "kinds": ", ".join(UNIT_KINDS)},
                )
            )
            bad_lines.add(line)

    valid: list[PersonRow] = []
    for person in candidates:
        if person.line in bad_lines:
            continue
        org_key = person.organisation.casefold()
        person.organisation_kind = (
            org_existing.get(org_key) or org_kind_seen.get(org_key, (0, ""))[1]
        )
        if person.unit:
            unit_key = (org_key, person.unit.casefold())
            person.unit_kind = (
                unit_existing.get(unit_key) or unit_kind_seen.get(unit_key, (0, ""))[1]
            )
            # Every row of a unit carries the unit's area, even where its cell was empty.
            person.area = unit_area_seen.get(unit_key, (0, ""))[1]
        valid.append(person)
    errors.sort(key=lambda e: e.line)
    return valid, errors


def _split(text: str) -> list[str]:
    """Values of a multi-valued cell, trimmed, without blanks or repeats, in order."""
    result: list[str] = []
    for part in _SPLIT.split(text):
        value = " ".join(part.split())
        if value and value.casefold() not in (r.casefold() for r in result):
            result.append(value)
    return result


def _vocabulary(
    text: str,
    aliases: Mapping[str, str],
    column: str,
    known: Sequence[str],
    fail: _Fail,
) -> list[str]:
    result: list[str] = []
    for value in _split(text):
        canonical = aliases.get(_key(value))
        if canonical is None:
            fail(column, UNKNOWN_VALUE, value=repr(value), column=column, known=", ".join(known))
        elif canonical not in result:
            result.append(canonical)
    return result


def _one_word(
    text: str, aliases: Mapping[str, str], column: str, known: Sequence[str], fail: _Fail
) -> str:
    if not text:
        return ""
    canonical = aliases.get(_key(text))
    if canonical is None:
        fail(column, UNKNOWN_VALUE, value=repr(text), column=column, known=", ".join(known))
        return ""
    return canonical
