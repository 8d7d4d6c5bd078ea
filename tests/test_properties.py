"""Property-based tests (Hypothesis) for the two parsers that take input from anyone:
the signed link tokens and the contact-list CSV files.

Tokens: whatever a person's keys are, a token comes back as exactly those keys, only for
its own purpose and key; no edit of a token, and no string at all, yields another identity
or anything but BadToken. CSV: whatever the names hold (delimiters, quotes, newlines,
control characters, any Unicode), in any encoding, delimiter and line ending staff's tools
write, every row comes back, bad addresses are rejected with their line, and importing
twice changes nothing. Arbitrary bytes give rows or a CsvFileError, never a crash.
"""

from __future__ import annotations

import csv
import io
import re
import string
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from mailer.contacts.csvfile import HEADER_ALIASES, MAX_FIELD_CHARS, CsvFileError, parse
from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact, Membership
from mailer.mail.tokens import PURPOSES, BadToken, TokenCodec

SECRET = "property-test-secret-key-0123456789"
URL_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")

keys = st.text(min_size=1, max_size=40)  # link keys are random ASCII, but nothing may depend on it
secrets = st.text(alphabet=string.ascii_letters + string.digits + "-_!#", min_size=16, max_size=40)


# -- tokens ------------------------------------------------------------------------------


@given(purpose=st.sampled_from(PURPOSES), contact_key=keys, meeting_key=st.none() | keys)
def test_a_token_names_exactly_its_keys_and_only_for_its_purpose(purpose, contact_key, meeting_key):
    codec = TokenCodec(SECRET)
    token = codec.dumps(purpose, contact_key, meeting_key)
    assert URL_SAFE.match(token), token  # goes into a URL path as it is
    assert codec.loads(purpose, token) == (contact_key, meeting_key)
    for other in PURPOSES:
        if other != purpose:
            with pytest.raises(BadToken):
                codec.loads(other, token)


@st.composite
def edited(draw, token: str) -> str:
    """A token after a prober's edit: a character changed, removed or added, or the token cut."""
    kind = draw(st.sampled_from(["replace", "delete", "insert", "truncate", "swap_parts"]))
    alphabet = string.ascii_letters + string.digits + "-_.=%~åé\u2028\x00"  # itsdangerous ignores non-ASCII
    if kind == "truncate":
        return token[: draw(st.integers(0, len(token) - 1))]
    if kind == "swap_parts":
        payload, _, signature = token.partition(".")
        return f"{signature}.{payload}"
    position = draw(st.integers(0, len(token) - 1))
    if kind == "delete":
        return token[:position] + token[position + 1 :]
    char = draw(st.sampled_from(alphabet))
    if kind == "insert":
        return token[:position] + char + token[position:]
    return token[:position] + char + token[position + 1 :]


@given(data=st.data(), purpose=st.sampled_from(PURPOSES), contact_key=keys, meeting_key=st.none() | keys)
def test_an_edited_token_never_names_anyone_else(data, purpose, contact_key, meeting_key):
    codec = TokenCodec(SECRET)
    token = codec.dumps(purpose, contact_key, meeting_key)
    forged = data.draw(edited(token))
    try:
        result = codec.loads(purpose, forged)
    except BadToken:
        return
    # base64 ignores the spare bits of a last character: such an edit may still verify,
    # but it can only ever mean the very same person and meeting.
    assert result == (contact_key, meeting_key)


@given(
    text=st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    purpose=st.sampled_from(PURPOSES),
)
@example(text="W10.", purpose="rsvp")
@example(text="." * 200, purpose="unsubscribe")
@example(text="WyJhIl0.\x00", purpose="evaluation")
def test_any_string_is_a_bad_token_and_nothing_else(text, purpose):
    with pytest.raises(BadToken):
        TokenCodec(SECRET).loads(purpose, text)


@given(old=secrets, new=secrets, stranger=secrets, purpose=st.sampled_from(PURPOSES), contact_key=keys)
def test_tokens_of_another_key_are_refused_and_listed_old_keys_accepted(old, new, stranger, purpose, contact_key):
    assume(len({old, new, stranger}) == 3)
    sent = TokenCodec(old).dumps(purpose, contact_key)
    assert TokenCodec(new, (old,)).loads(purpose, sent) == (contact_key, None)
    with pytest.raises(BadToken):
        TokenCodec(new).loads(purpose, sent)
    with pytest.raises(BadToken):
        TokenCodec(new, (stranger,)).loads(purpose, sent)
    with pytest.raises(BadToken):
        TokenCodec(old).loads(purpose, TokenCodec(stranger).dumps(purpose, contact_key))


# -- CSV ---------------------------------------------------------------------------------

EMAIL_HEADERS = sorted(h for h, f in HEADER_ALIASES.items() if f == "email")
NAME_HEADERS = sorted(h for h, f in HEADER_ALIASES.items() if f == "name")
ROLE_HEADERS = sorted(h for h, f in HEADER_ALIASES.items() if f == "role")
# The specification of a cleaned cell: whitespace runs (newlines too) become one space,
# other control and format characters (bidi overrides too) are dropped, the text is NFC,
# at most MAX_FIELD_CHARS characters.
CP1252_TEXT = string.ascii_letters + string.digits + " ,;\t\"'\n\r-.()&/åäöÅÄÖéüÉ"


def cleaned(value: str) -> str | None:
    kept = "".join(ch for ch in value if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf"))
    return unicodedata.normalize("NFC", " ".join(kept.split()))[:MAX_FIELD_CHARS].rstrip() or None


local_parts = st.from_regex(r"[a-z0-9](?:[a-z0-9_+-]{0,15}[a-z0-9])?(?:\.[a-z0-9]{1,8}){0,2}", fullmatch=True)
domains = st.from_regex(r"[a-z][a-z0-9]{0,10}(?:-[a-z0-9]{1,5})?\.(?:se|org|nu|example\.org)", fullmatch=True)
good_addresses = st.builds(
    lambda local, domain, upper: f"{local}@{domain}".upper() if upper else f"{local}@{domain}",
    local_parts,
    domains,
    st.booleans(),
)
bad_addresses = st.one_of(
    st.from_regex(r"[a-z]{1,12}(?:\.[a-z]{1,8})?", fullmatch=True),  # no @ at all
    st.from_regex(r"[a-z]{1,8}@", fullmatch=True),  # no domain
    st.from_regex(r"[a-z]{1,8}@@[a-z]{1,8}\.se", fullmatch=True),
    st.from_regex(r"[a-z]{1,8}\.\.[a-z]{1,8}@[a-z]{1,8}\.se", fullmatch=True),  # two dots
)


@st.composite
def contact_lists(draw, cp1252: bool = False):
    """(file bytes, rows written, the line each row starts on) for a list as some tool wrote it."""
    # Anything but NUL, which marks a file as binary when it comes early (tested below).
    text = (
        st.text(alphabet=CP1252_TEXT, max_size=40)
        if cp1252
        else st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
    )
    rows = draw(
        st.lists(
            st.tuples(st.one_of(good_addresses, bad_addresses), st.booleans(), text, text), min_size=1, max_size=12
        )
    )
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    terminator = draw(st.sampled_from(["\r\n", "\n"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    if terminator == "\n" and any("\r" in cell for row in rows for cell in row[2:]):
        quoting = csv.QUOTE_ALL  # Python's writer quotes a lone \r only when it ends its own lines
    header = [
        draw(st.sampled_from(EMAIL_HEADERS)),
        draw(st.sampled_from(NAME_HEADERS)),
        draw(st.sampled_from(ROLE_HEADERS)),
    ]
    header = [h.upper() if draw(st.booleans()) else h for h in header]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=terminator, quoting=quoting)
    writer.writerow(header)
    starts = []
    for address, padded, name, role in rows:
        # Where this record starts, counted the way a reader counts lines (\r, \n and \r\n each end one).
        starts.append(len(io.StringIO(buffer.getvalue(), newline="").readlines()) + 1)
        writer.writerow([f"  {address} " if padded else address, name, role])
    data = buffer.getvalue()
    if cp1252:
        encoded = data.encode("cp1252")
    else:
        encoded = data.encode(draw(st.sampled_from(["utf-8", "utf-8-sig"])))
    return encoded, [(a, n, r) for a, _, n, r in rows], starts


def is_good(address: str) -> bool:
    return "@" in address and "@@" not in address and ".." not in address and not address.endswith("@")


def check_parsed(tmp_path: Path, data: bytes, rows, starts) -> None:
    path = tmp_path / "lista.csv"
    path.write_bytes(data)
    parsed = parse(path)
    expected_rows = [
        (a.lower(), cleaned(n), cleaned(r), line) for (a, n, r), line in zip(rows, starts, strict=True) if is_good(a)
    ]
    assert [(r.email, r.name, r.role, r.line) for r in parsed.rows] == expected_rows
    assert [p.line for p in parsed.rejected] == [
        line for (a, _, _), line in zip(rows, starts, strict=True) if not is_good(a)
    ]
    assert all(p.message.startswith("bad address ") for p in parsed.rejected)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(written=contact_lists())
@example(
    written=(
        'email;namn;roll\r\nanna@kor.se;"Anna\r\nAndersson";"=1+1"\r\n'.encode("utf-8-sig"),
        [("anna@kor.se", "Anna\r\nAndersson", "=1+1")],
        [2],
    )
)
@example(
    written=(
        'email,name,role\na@b.se,"Ni\x07na \x1b[31m","\u2028x"\n'.encode(),
        [("a@b.se", "Ni\x07na \x1b[31m", "\u2028x")],
        [2],
    )
)
def test_every_row_of_a_written_list_comes_back(tmp_path, written):
    check_parsed(tmp_path, *written)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(written=contact_lists(cp1252=True))
def test_windows_1252_lists_come_back_the_same(tmp_path, written):
    check_parsed(tmp_path, *written)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.one_of(
        st.binary(max_size=3000),
        st.builds(
            lambda head, body: head + body,
            st.sampled_from([b"email,name\n", b"e-post;namn\r\n", b"mail\t\n"]),
            st.binary(max_size=3000),
        ),
        st.builds(
            lambda head, body: head + body.encode("utf-8", "surrogatepass"),
            st.sampled_from([b"email,name\n", b"\xef\xbb\xbfE-post;Namn\r\n"]),
            st.text(max_size=2000),
        ),
    )
)
@example(data=b'email,name\na@b.se,"x' + b"y" * 140_000 + b'"\n')
@example(data=b"email," + b",".join(b"c%d" % i for i in range(500)) + b"\n")
@example(data=b'email\n"a@b.se"x"\n')
def test_arbitrary_bytes_give_rows_or_a_clear_error(tmp_path, data):
    path = tmp_path / "lista.csv"
    path.write_bytes(data)
    try:
        parsed = parse(path)
    except CsvFileError as exc:
        assert str(exc)  # a reason to show, never an empty message
        return
    for row in parsed.rows:
        assert "@" in row.email and row.email == row.email.lower()
        for value in (row.name, row.role, row.region, row.phone):
            assert value is None or (value == cleaned(value) and len(value) <= MAX_FIELD_CHARS)
    assert all(p.line >= 2 for p in parsed.rejected + parsed.warnings)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(written=contact_lists())
def test_importing_a_list_twice_is_one_contact_per_address_and_changes_nothing(db, tmp_path, written):
    data, rows, _ = written
    path = tmp_path / "prop-org.csv"
    path.write_bytes(data)
    good = [(a.lower(), cleaned(n), cleaned(r)) for a, n, r in rows if is_good(a)]
    last_name: dict[str, str | None] = {}
    for address, name, _ in good:  # later non-empty cells win
        if name or address not in last_name:
            last_name[address] = name or last_name.get(address)
    with db.sessionmaker() as session:  # one transaction per example, rolled back: examples never meet
        session.begin()
        try:
            first = import_lists(session, [path]).files[0]
            assert first.error is None
            assert first.imported == len(last_name)
            assert len(first.rejected) == len(rows) - len(good)
            stored = dict(session.execute(select(Contact.email, Contact.name)).all())
            assert stored == last_name
            assert session.scalar(select(func.count()).select_from(Membership)) == len(last_name)
            again = import_lists(session, [path]).files[0]
            assert (again.imported, again.updated) == (0, 0)
            assert again.unchanged == len(last_name)  # one per person: merged duplicates are warnings
            assert dict(session.execute(select(Contact.email, Contact.name)).all()) == stored
        finally:
            session.rollback()
