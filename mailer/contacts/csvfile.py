"""Reading member organisations' contact lists: real exports from Excel and member systems.

Pure parsing and validation, no database: the import, its --dry-run and the
staff upload preview all see exactly the same rows and rejections.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from email_validator import EmailNotValidError, EmailUndeliverableError, validate_email

from mailer.regions import canonical_region, fold, suggest_region

MAX_FILE_BYTES = 50 * 1024 * 1024  # the default of the `max_upload_mb` setting
MAX_COLUMNS = 200
MAX_FIELD_CHARS = 1000
# The columns' sizes in the database (PostgreSQL enforces them): a longer cell is cut, with a
# warning; it is usually another column's text pasted into this one.
FIELD_LIMITS = {"name": 200, "title": 200, "role": 100, "region": 100, "phone": 50}
ORGANISATION_LIMITS = {"name": 200, "region": 100}

# The alias table (README "Contact lists" keeps the same table): the headers each field is
# read from. A header matches when it is the same ignoring case, spaces, hyphens, underscores,
# punctuation and accents ("E-post adress", "EPOST", "e_mail_adress" all match "e-postadress").
HEADER_TABLE: dict[str, tuple[str, ...]] = {
    "email": (
        "e-post",
        "epost",
        "e-postadress",
        "e-post adress",
        "email",
        "e-mail",
        "e-mailadress",
        "email address",
        "mail",
        "mailadress",
        "mejl",
        "mejladress",
    ),
    "name": ("namn", "name", "fullständigt namn", "full name", "för- och efternamn", "kontaktperson"),
    "first_name": ("förnamn", "first name", "first_name", "tilltalsnamn", "given name"),
    "last_name": ("efternamn", "last name", "last_name", "surname", "family name"),
    "title": ("titel", "title", "befattning", "yrkestitel", "job title"),
    "role": ("roll", "role", "uppdrag", "funktion", "styrelseroll"),
    "region": ("region", "län", "region/län", "län/region", "landsting"),
    "language": ("språk", "language", "lang"),
    "phone": ("telefon", "telefonnummer", "tel", "phone", "mobil", "mobilnummer", "mobiltelefon", "mobile"),
    # Known columns that are deliberately not read: no question asked about them.
    "ignore": (
        "id",
        "member id",
        "medlemsnummer",
        "medlemsnr",
        "personnummer",
        "kommentar",
        "anteckning",
        "notes",
        "adress",
        "postadress",
        "postnummer",
        "ort",
        "postort",
        "organisation",
        "förening",
        "kön",
        "födelseår",
    ),
}
FIELDS = tuple(field for field in HEADER_TABLE if field != "ignore")  # what a column can be chosen to hold
IGNORE = "ignore"


def header_key(text: str) -> str:
    """What headers are compared by: no case, accents, spaces or punctuation ('E-post adress' -> 'epostadress')."""
    return fold(text).replace(" ", "")


_HEADER_FIELDS = {header_key(alias): field for field, aliases in HEADER_TABLE.items() for alias in aliases}
# The same as one dict of aliases -> field (kept for callers that list the accepted headers).
HEADER_ALIASES = {alias: field for field, aliases in HEADER_TABLE.items() for alias in aliases}
LANGUAGE_ALIASES = {
    "sv": "sv",
    "se": "sv",
    "svenska": "sv",
    "swedish": "sv",
    "sv-se": "sv",
    "en": "en",
    "engelska": "en",
    "english": "en",
    "en-gb": "en",
    "en-us": "en",
}


class CsvFileError(Exception):
    """The file cannot be read as a contact list at all: nothing from it is imported.

    The message is English (the command line); `code` and `params` let the staff
    pages say the same in the page's language.
    """

    def __init__(self, message: str, code: str, **params: object):
        super().__init__(message)
        self.code, self.params = code, params


@dataclass(slots=True)
class ContactRow:
    line: int
    email: str
    name: str | None = None
    title: str | None = None
    role: str | None = None
    region: str | None = None
    language: str | None = None
    phone: str | None = None


@dataclass
class Problem:
    """One row's or column's problem: `message` in English, `code` and `params` for translated pages.

    A blocking problem (an unknown region or column, two columns for one field) carries
    `choice`, the key under which staff answer it ("region:Sörmlnd", "column:3"), and
    `suggestion`, the closest answer, so the page can offer it preselected.
    """

    line: int
    message: str
    value: str | None = None
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    choice: str | None = None
    suggestion: str | None = None


@dataclass
class Choices:
    """What staff chose for a file's blocking problems, and for people the lists spell differently.

    columns: column number (1-based, as a string) or header -> a field of FIELDS, or "ignore";
    regions: a region as written in the file -> a canonical region, or "" for no region;
    names / regions_shown: address -> the spelling to show for that person.
    """

    columns: dict[str, str] = field(default_factory=dict)
    regions: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    regions_shown: dict[str, str] = field(default_factory=dict)

    def to_form(self) -> dict[str, str]:
        """The choices as form fields (the upload preview carries them to the confirmation)."""
        return (
            {f"column:{key}": value for key, value in self.columns.items()}
            | {f"region:{key}": value for key, value in self.regions.items()}
            | {f"name:{key}": value for key, value in self.names.items()}
            | {f"shown_region:{key}": value for key, value in self.regions_shown.items()}
        )

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> Choices:
        choices = cls()
        for key, value in form.items():
            kind, _, what = key.partition(":")
            target = {
                "column": choices.columns,
                "region": choices.regions,
                "name": choices.names,
                "shown_region": choices.regions_shown,
            }.get(kind)
            if target is not None and what:
                target[what] = value
        return choices


@dataclass
class ParsedList:
    path: Path
    rows: list[ContactRow] = field(default_factory=list)
    rejected: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    blocking: list[Problem] = field(default_factory=list)  # nothing from the file is imported while any is left


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
        raise CsvFileError(
            f"cannot decode the file as UTF-8 or Windows-1252 (byte {exc.start})", "undecodable", byte=exc.start
        ) from None


def _delimiter(header_line: str) -> str:
    counts = {delimiter: header_line.count(delimiter) for delimiter in (";", ",", "\t")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def clean_text(value: str | None) -> tuple[str | None, bool]:
    """One line of text, and whether anything besides spacing had to be changed.

    Runs of whitespace (newlines too) become one space; control and format characters go
    (NUL, escape sequences, and the bidi overrides such as U+202E that make a name read
    backwards); the text is NFC-normalised, so "a" + combining ring and "å" are the same name.
    """
    if value is None:
        return None, False
    kept = "".join(ch for ch in value if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf"))
    text = unicodedata.normalize("NFC", " ".join(kept.split()))
    changed = len(kept) != len(value) or text != " ".join(kept.split())
    return text[:MAX_FIELD_CHARS].rstrip() or None, changed


def _clean(value: str | None) -> str | None:
    return clean_text(value)[0]


def _too_large(max_bytes: int) -> CsvFileError:
    mb = max_bytes // (1024 * 1024)
    return CsvFileError(f"file is larger than {mb} MB", "too_large", mb=mb)


READ_CHUNK = 1024 * 1024  # bytes read at a time when checking a file's encoding


def _encoding(stream: BinaryIO) -> str:
    """UTF-8 (with or without BOM), else Windows-1252, as Swedish Excel saves it, decided by
    reading the whole file once in chunks (fast, C code), so that rows can then be read one at
    a time: a file is never held in memory whole."""
    if b"\x00" in stream.read(8192):
        raise CsvFileError("not a CSV file (binary content)", "binary")
    for encoding in ("utf-8-sig", "cp1252"):
        stream.seek(0)
        decoder, offset = codecs.getincrementaldecoder(encoding)(), 0
        try:
            while chunk := stream.read(READ_CHUNK):
                decoder.decode(chunk)
                offset += len(chunk)
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError as exc:
            error_at = offset + exc.start  # cp1252 decodes byte by byte: the offset in the file
    raise CsvFileError(
        f"cannot decode the file as UTF-8 or Windows-1252 (byte {error_at})", "undecodable", byte=error_at
    )


def _open(path: Path, data: bytes | None, max_bytes: int) -> BinaryIO:
    if data is not None:
        if len(data) > max_bytes:
            raise _too_large(max_bytes)
        return io.BytesIO(data)
    try:
        if path.stat().st_size > max_bytes:
            raise _too_large(max_bytes)
        return path.open("rb")
    except OSError as exc:
        raise CsvFileError(f"cannot read the file: {exc.strerror}", "unreadable", reason=exc.strerror) from None


def parse(
    path: Path,
    data: bytes | None = None,
    check_dns: bool = False,
    display_name: str | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    choices: Choices | None = None,
) -> ParsedList:
    """Parse one contact list, all rows at once. Raises CsvFileError when the file as a whole is unusable."""
    parsed = ParsedList(path=path)
    parsed.rows = list(read_rows(parsed, data, check_dns, max_bytes, choices))
    return parsed


def read_rows(
    parsed: ParsedList,
    data: bytes | None = None,
    check_dns: bool = False,
    max_bytes: int = MAX_FILE_BYTES,
    choices: Choices | None = None,
) -> Iterator[ContactRow]:
    """The rows of `parsed.path` (or of `data`), one at a time, with their problems added to
    `parsed` as they are met; an unknown region becomes a blocking problem once the whole
    file is read. Raises CsvFileError, possibly after rows were yielded, when the file as a
    whole is unusable: the caller then drops what it did with them.

    Why a generator: a list of a million rows does not fit the memory the import may use.
    """
    choices = choices or Choices()
    with _open(parsed.path, data, max_bytes) as stream:
        encoding = _encoding(stream)
        stream.seek(0)
        first_line = stream.readline(READ_CHUNK).decode(encoding, errors="replace")
        stream.seek(0)
        text = io.TextIOWrapper(stream, encoding=encoding, newline="")
        yield from _read(parsed, text, _delimiter(first_line), check_dns, choices)
        text.detach()


def _read(
    parsed: ParsedList, text: io.TextIOBase, delimiter: str, check_dns: bool, choices: Choices
) -> Iterator[ContactRow]:
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise CsvFileError("the file is empty (no header row)", "empty")
        if len(header) > MAX_COLUMNS:
            raise CsvFileError(
                f"the header has {len(header)} columns (at most {MAX_COLUMNS})",
                "too_many_columns",
                n=len(header),
                limit=MAX_COLUMNS,
            )
        columns = _columns(header, choices, parsed)
        if "email" not in columns and not parsed.blocking:
            found = ", ".join(repr(column) for column in header[:10])
            raise CsvFileError(
                f"no email column (expected a header such as e-post, epost, mejladress or email; found: {found})",
                "no_email_column",
                found=found,
            )
        line = reader.line_num
        unknown_regions: dict[str, list[int]] = {}
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if "email" in columns:
                row = _parse_row(parsed, start, cells, columns, check_dns, choices, unknown_regions)
                if row is not None:
                    yield row
    except csv.Error as exc:
        if "field limit" in str(exc):  # one cell over csv.field_size_limit(): not a contact list
            raise CsvFileError(
                f"line {reader.line_num}: a cell is longer than {csv.field_size_limit()} characters "
                "(an unclosed quote, or not a contact list)",
                "cell_too_long",
                line=reader.line_num,
                limit=csv.field_size_limit(),
            ) from None
        raise CsvFileError(
            f"line {reader.line_num}: broken CSV quoting ({exc})", "broken_quoting", line=reader.line_num
        ) from None
    for value, lines in unknown_regions.items():
        suggestion = suggest_region(value)
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        hint = f"did you mean {suggestion}? " if suggestion else ""
        parsed.blocking.append(
            Problem(
                lines[0],
                f"unknown region {value!r} on line {lines[0]}{more}: {hint}"
                f"write one of the 21 regions or 'Hela landet', or choose with --map-region {value!r}=REGION",
                value,
                "unknown_region",
                {"lines": len(lines), "suggestion": suggestion or ""},
                choice=f"region:{value}",
                suggestion=suggestion,
            )
        )


def _suggest_field(header: str) -> str | None:
    close = difflib.get_close_matches(header_key(header), list(_HEADER_FIELDS), n=1, cutoff=0.75)
    return _HEADER_FIELDS[close[0]] if close else None


def _columns(header: list[str], choices: Choices, parsed: ParsedList) -> dict[str, int]:
    """field -> column index, from the alias table and staff's choices; unknown columns and two
    columns for one field are blocking problems naming the column and the fix."""
    chosen = {}
    for key, value in choices.columns.items():
        chosen[key if key.isdigit() else header_key(key)] = value
    by_field: dict[str, list[int]] = {}
    for index, cell in enumerate(header):
        label = cell.strip().strip('"')
        choice = chosen.get(str(index + 1), chosen.get(header_key(label)))
        known = choice if choice in FIELDS or choice == IGNORE else _HEADER_FIELDS.get(header_key(label))
        if known is None and not label:
            continue  # an unnamed column, as Excel leaves after the last one
        if known is None:
            suggestion = _suggest_field(label)
            hint = f"it looks like {suggestion!r}: " if suggestion else ""
            parsed.blocking.append(
                Problem(
                    1,
                    f"column {index + 1} {label!r} is not a known header: {hint}rename it to one in the alias table "
                    f"(README, Contact lists), or choose with --column {label!r}=FIELD (or =ignore)",
                    label,
                    "unknown_column",
                    {"column": index + 1, "header": label, "suggestion": suggestion or ""},
                    choice=f"column:{index + 1}",
                    suggestion=suggestion or IGNORE,
                )
            )
            continue
        if known != IGNORE:
            by_field.setdefault(known, []).append(index)
    columns = {}
    for name, indexes in by_field.items():
        columns[name] = indexes[0]
        if len(indexes) > 1:
            labels = " and ".join(f"{index + 1} {header[index].strip()!r}" for index in indexes)
            for index in indexes[1:]:
                parsed.blocking.append(
                    Problem(
                        1,
                        f"columns {labels} are both read as {name}: remove or rename one, or choose with "
                        f"--column {header[index].strip()!r}=ignore",
                        header[index].strip(),
                        "duplicate_column",
                        {
                            "column": index + 1,
                            "header": header[index].strip(),
                            "field": name,
                            "other_column": indexes[0] + 1,
                            "other_header": header[indexes[0]].strip(),
                        },
                        choice=f"column:{index + 1}",
                        suggestion=IGNORE,
                    )
                )
    return columns


def _parse_row(
    parsed: ParsedList,
    line: int,
    cells: list[str],
    columns: dict[str, int],
    check_dns: bool,
    choices: Choices,
    unknown_regions: dict[str, list[int]],
) -> ContactRow | None:
    cleaned_fields = []

    def cell(key: str) -> str | None:
        index = columns.get(key)
        if index is None or index >= len(cells):
            return None
        text, changed = clean_text(cells[index])
        if changed:
            cleaned_fields.append(key)
        return text

    raw_email = cell("email")
    if not raw_email:
        parsed.rejected.append(Problem(line, "missing address", code="missing_address"))
        return None
    try:
        email = normalise_email(raw_email, check_dns)
    except EmailUndeliverableError as exc:
        parsed.rejected.append(
            Problem(line, f"undeliverable address {raw_email!r}: {exc}", raw_email, "undeliverable_address")
        )
        return None
    except EmailNotValidError as exc:
        parsed.rejected.append(Problem(line, f"bad address {raw_email!r}: {exc}", raw_email, "bad_address"))
        return None

    name = cell("name")
    if not name:
        name = _clean(" ".join(filter(None, [cell("first_name"), cell("last_name")])))
    language = cell("language")
    if language is not None:
        code = LANGUAGE_ALIASES.get(language.lower())
        if code is None:
            parsed.warnings.append(
                Problem(line, f"unknown language {language!r} ignored (use sv or en)", language, "unknown_language")
            )
        language = code
    written_region = cell("region")
    region = canonical_region(written_region)
    if written_region and region is None:
        if written_region in choices.regions:
            region = canonical_region(choices.regions[written_region])  # "" (no region) stays None
        else:
            unknown_regions.setdefault(written_region, []).append(line)
    values = {"name": name, "title": cell("title"), "role": cell("role"), "region": region, "phone": cell("phone")}
    for key, value in values.items():
        limit = FIELD_LIMITS[key]
        if value is not None and len(value) > limit:
            parsed.warnings.append(
                Problem(
                    line,
                    f"{key} longer than {limit} characters: cut",
                    value[:400],
                    "too_long",
                    {"field": key, "limit": limit},
                )
            )
            values[key] = value[:limit].rstrip()
    if cleaned_fields:
        fields = ", ".join(dict.fromkeys(cleaned_fields))
        parsed.warnings.append(
            Problem(
                line, f"{fields}: control or right-to-left characters removed", email, "cleaned", {"fields": fields}
            )
        )
    return ContactRow(line=line, email=email, language=language, **values)


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
        raise CsvFileError(
            f"{path.name} beside it cannot be read: {exc}", "registry_unreadable", name=path.name
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=_delimiter(text.split("\n", 1)[0]))
    names = {}
    try:
        for row in reader:
            # A row longer than the header puts a list under the key None: ignore those cells.
            row = {
                (key or "").strip().lower(): _clean(value) or "" for key, value in row.items() if isinstance(value, str)
            }
            for key, limit in ORGANISATION_LIMITS.items():
                row[key] = row.get(key, "")[:limit].rstrip()
            if row.get("slug") and row.get("name"):
                email = row.get("email") or row.get("e-post") or None
                try:
                    email = normalise_email(email) if email else None
                except EmailNotValidError:
                    email = None
                names[row["slug"]] = OrganisationInfo(row["name"], canonical_region(row.get("region")), email)
    except csv.Error as exc:
        raise CsvFileError(
            f"{path.name} beside it cannot be read: line {reader.reader.line_num}: {exc}",
            "registry_unreadable",
            name=path.name,
        ) from None
    return names
