"""Reading member organisations' contact lists: real exports from Excel and member systems.

Pure parsing and validation, no database: the import, its --dry-run and the
staff upload preview all see exactly the same rows and rejections.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from email_validator import EmailNotValidError, EmailUndeliverableError, validate_email

MAX_FILE_BYTES = 50 * 1024 * 1024  # the default of the `max_upload_mb` setting
MAX_COLUMNS = 200
MAX_FIELD_CHARS = 1000
# The columns' sizes in the database (PostgreSQL enforces them): a longer cell is cut, with a
# warning; it is usually another column's text pasted into this one.
FIELD_LIMITS = {"name": 200, "role": 100, "region": 100, "phone": 50}
ORGANISATION_LIMITS = {"name": 200, "region": 100}
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")

# Header (lower case, stripped) -> our field. Swedish and English, as exports write them.
HEADER_ALIASES = {
    "email": "email", "e-mail": "email", "e-post": "email", "epost": "email",
    "e-postadress": "email", "epostadress": "email", "mail": "email", "email address": "email",
    "name": "name", "namn": "name", "full name": "name", "fullständigt namn": "name",
    "first_name": "first_name", "first name": "first_name", "förnamn": "first_name", "fornamn": "first_name",
    "last_name": "last_name", "last name": "last_name", "efternamn": "last_name",
    "role": "role", "roll": "role", "befattning": "role",
    "region": "region", "län": "region",
    "language": "language", "språk": "language", "sprak": "language", "lang": "language",
    "phone": "phone", "telefon": "phone", "tel": "phone", "mobil": "phone", "mobile": "phone",
}
LANGUAGE_ALIASES = {
    "sv": "sv", "se": "sv", "svenska": "sv", "swedish": "sv", "sv-se": "sv",
    "en": "en", "engelska": "en", "english": "en", "en-gb": "en", "en-us": "en",
}


class CsvFileError(Exception):
    """The file cannot be read as a contact list at all: nothing from it is imported.

    The message is English (the command line); `code` and `params` let the staff
    pages say the same in the page's language.
    """

    def __init__(self, message: str, code: str, **params: object):
        super().__init__(message)
        self.code, self.params = code, params


@dataclass
class ContactRow:
    line: int
    email: str
    name: str | None = None
    role: str | None = None
    region: str | None = None
    language: str | None = None
    phone: str | None = None


@dataclass
class Problem:
    """One row's problem: `message` in English, `code` and `params` for translated pages."""

    line: int
    message: str
    value: str | None = None
    code: str = ""
    params: dict = field(default_factory=dict)


@dataclass
class ParsedList:
    path: Path
    rows: list[ContactRow] = field(default_factory=list)
    rejected: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def normalise_email(value: str, check_dns: bool = False) -> str:
    """The address as we store and key it: validated, normalised, lower-cased.

    Raises EmailNotValidError with a readable reason.
    """
    result = validate_email(value.strip(), check_deliverability=check_dns)
    return result.normalized.lower()


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252, as Swedish Excel saves it."""
    if b"\x00" in data[:8192]:
        raise CsvFileError("not a CSV file (binary content)", "binary")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise CsvFileError(f"cannot decode the file as UTF-8 or Windows-1252 (byte {exc.start})", "undecodable",
                           byte=exc.start) from None


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


# Control characters that are not whitespace (NUL, ESC, BEL, C1): PostgreSQL refuses NUL
# in text, and escape sequences would reach terminals through `mailer contacts list`.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def _clean(value: str | None) -> str | None:
    """One line of text: runs of whitespace (newlines too) become one space, control characters go."""
    if value is None:
        return None
    value = " ".join(_CONTROL.sub("", value).split())
    return value[:MAX_FIELD_CHARS].rstrip() or None


def _too_large(max_bytes: int) -> CsvFileError:
    mb = max_bytes // (1024 * 1024)
    return CsvFileError(f"file is larger than {mb} MB", "too_large", mb=mb)


def parse(path: Path, data: bytes | None = None, check_dns: bool = False, display_name: str | None = None,
          max_bytes: int = MAX_FILE_BYTES) -> ParsedList:
    """Parse one contact list. Raises CsvFileError when the file as a whole is unusable."""
    if data is None:
        try:
            if path.stat().st_size > max_bytes:
                raise _too_large(max_bytes)
            data = path.read_bytes()
        except OSError as exc:
            raise CsvFileError(f"cannot read the file: {exc.strerror}", "unreadable", reason=exc.strerror) from None
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    text = decode(data)
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line), strict=True)
    parsed = ParsedList(path=path)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise CsvFileError("the file is empty (no header row)", "empty")
        if len(header) > MAX_COLUMNS:
            raise CsvFileError(f"the header has {len(header)} columns (at most {MAX_COLUMNS})", "too_many_columns",
                                  n=len(header), limit=MAX_COLUMNS)
        columns: dict[str, int] = {}
        for index, cell in enumerate(header):
            key = HEADER_ALIASES.get(cell.strip().strip('"').lower())
            if key and key not in columns:
                columns[key] = index
        if "email" not in columns:
            found = ", ".join(repr(c) for c in header[:10])
            raise CsvFileError(
                f"no email column (expected a header such as e-post, epost or email; found: {found})",
                "no_email_column", found=found)
        line = reader.line_num
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            _parse_row(parsed, start, cells, columns, check_dns)
    except csv.Error as exc:
        if "field limit" in str(exc):  # one cell over csv.field_size_limit(): not a contact list
            raise CsvFileError(f"line {reader.line_num}: a cell is longer than {csv.field_size_limit()} characters "
                               "(an unclosed quote, or not a contact list)", "cell_too_long", line=reader.line_num,
                               limit=csv.field_size_limit()) from None
        raise CsvFileError(f"line {reader.line_num}: broken CSV quoting ({exc})", "broken_quoting",
                           line=reader.line_num) from None
    return parsed


def _parse_row(parsed: ParsedList, line: int, cells: list[str], columns: dict[str, int], check_dns: bool) -> None:
    def cell(key: str) -> str | None:
        index = columns.get(key)
        return _clean(cells[index]) if index is not None and index < len(cells) else None

    raw_email = cell("email")
    if not raw_email:
        parsed.rejected.append(Problem(line, "missing address", code="missing_address"))
        return
    try:
        email = normalise_email(raw_email, check_dns)
    except EmailUndeliverableError as exc:
        parsed.rejected.append(Problem(line, f"undeliverable address {raw_email!r}: {exc}", raw_email,
                                       "undeliverable_address"))
        return
    except EmailNotValidError as exc:
        parsed.rejected.append(Problem(line, f"bad address {raw_email!r}: {exc}", raw_email, "bad_address"))
        return

    name = cell("name")
    if not name:
        name = _clean(" ".join(filter(None, [cell("first_name"), cell("last_name")])))
    language = cell("language")
    if language is not None:
        code = LANGUAGE_ALIASES.get(language.lower())
        if code is None:
            parsed.warnings.append(Problem(line, f"unknown language {language!r} ignored (use sv or en)", language,
                                           "unknown_language"))
        language = code
    values = {"name": name, "role": cell("role"), "region": cell("region"), "phone": cell("phone")}
    for key, value in values.items():
        limit = FIELD_LIMITS[key]
        if value is not None and len(value) > limit:
            parsed.warnings.append(Problem(line, f"{key} longer than {limit} characters: cut", value[:400],
                                           "too_long", {"field": key, "limit": limit}))
            values[key] = value[:limit].rstrip()
    parsed.rows.append(ContactRow(line=line, email=email, language=language, **values))


@dataclass(frozen=True)
class OrganisationInfo:
    name: str
    region: str | None = None
    email: str | None = None  # where `mailer orgs report --send` goes


def read_organisation_names(folder: Path) -> dict[str, OrganisationInfo]:
    """`organisations.csv` beside the lists: `slug,name,region[,email]`."""
    path = folder / "organisations.csv"
    if not path.exists():
        return {}
    try:
        text = decode(path.read_bytes())
    except (CsvFileError, OSError) as exc:
        raise CsvFileError(f"{path.name} beside it cannot be read: {exc}", "registry_unreadable",
                           name=path.name) from None
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=_delimiter(text.split("\n", 1)[0]))
    names = {}
    try:
        for row in reader:
            # A row longer than the header puts a list under the key None: ignore those cells.
            row = {(k or "").strip().lower(): _clean(v) or "" for k, v in row.items() if isinstance(v, str)}
            for key, limit in ORGANISATION_LIMITS.items():
                row[key] = row.get(key, "")[:limit].rstrip()
            if row.get("slug") and row.get("name"):
                email = row.get("email") or row.get("e-post") or None
                try:
                    email = normalise_email(email) if email else None
                except EmailNotValidError:
                    email = None
                names[row["slug"]] = OrganisationInfo(row["name"], row.get("region") or None, email)
    except csv.Error as exc:
        raise CsvFileError(f"{path.name} beside it cannot be read: line {reader.reader.line_num}: {exc}",
                           "registry_unreadable", name=path.name) from None
    return names
