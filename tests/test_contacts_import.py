"""Importing member organisations' contact lists: real-looking files, a real database.

tests/data/ holds hand-made exports:
- sormlands-korforbund.csv  Swedish Excel: Windows-1252, semicolons, CRLF, Swedish headers
- ung-kultur-dalarna.csv    member system: UTF-8 with BOM, commas, English headers
- organisations.csv         display names (slug,name,region) for the two above
- excel-saved-as-csv.csv, no-email-column.csv, broken-quoting.csv: unreadable
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dns.resolver
import pytest
from sqlalchemy import inspect, select, text

from mailer.contacts.batched import import_in_batches
from mailer.contacts.csvfile import CsvFileError, normalise_email, parse
from mailer.contacts.importer import import_lists
from mailer.contacts.models import (
    Contact,
    ImportRejection,
    Membership,
    Organisation,
    Suppression,
    SuppressionReason,
    address_hash,
)
from mailer.contacts.queries import list_contacts, list_organisations
from mailer.db import utcnow

DATA = Path(__file__).parent / "data"
WIN = DATA / "sormlands-korforbund.csv"
BOM = DATA / "ung-kultur-dalarna.csv"
BROKEN = {
    "excel-saved-as-csv.csv": "not a CSV file (binary content)",
    "no-email-column.csv": "no email column",
    "broken-quoting.csv": "line 3: broken CSV quoting",
}

WIN_SUMMARY = "sormlands-korforbund.csv: 4 new, 0 changed, 0 unchanged, 0 removed, 2 rejected"
WIN_REJECTED = [
    f"{WIN}:5: bad address 'bjorn.akesson(at)korforbund.example.org': An email address must have an @-sign.",
    f"{WIN}:6: missing address",
]


# --- helpers --------------------------------------------------------------------


def snapshot(db) -> dict[str, list[tuple]]:
    """Every row of every table: equal snapshots mean nothing changed."""
    with db.engine.connect() as connection:
        tables = [t for t in inspect(connection).get_table_names() if t != "alembic_version"]
        return {t: [tuple(r) for r in connection.execute(text(f"SELECT * FROM {t} ORDER BY 1"))] for t in tables}


def run_import(db, paths, **options):
    """The import as the command line and the upload page run it: checked whole, then written in
    batches; a dry run in one transaction, as the preview runs it."""
    if not options.get("dry_run"):
        return import_in_batches(db, [Path(p) for p in paths], **options)
    with db.transaction() as session:
        return import_lists(session, [Path(p) for p in paths], **options)


def contact(db, email: str) -> Contact | None:
    with db.transaction() as session:
        found = session.scalar(select(Contact).where(Contact.email == email))
        if found is not None:
            found.memberships  # noqa: B018 - load before the session closes
            for m in found.memberships:
                m.organisation  # noqa: B018
        return found


def roles(person: Contact) -> dict[str, str | None]:
    return {m.organisation.slug: m.role for m in person.memberships}


def stderr_errors(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if ": warning: " not in line]


def suppress(db, email: str, reason: SuppressionReason) -> None:
    with db.transaction() as session:
        session.add(
            Suppression(
                address_hash=address_hash(email),
                email=None if reason is SuppressionReason.ERASED else email,
                reason=reason,
            )
        )


# --- reading files (no database) --------------------------------------------------


def test_windows_1252_semicolon_export_with_swedish_headers():
    parsed = parse(WIN)

    by_email = {row.email: row for row in parsed.rows}
    assert list(by_email) == [
        "asa.oberg@korforbund.example.org",
        "orjan@korsang.example.org",
        "marta.ek@körsång.example.org",
        "ingrid.back@korforbund.example.org",
    ]
    asa = by_email["asa.oberg@korforbund.example.org"]
    assert (asa.line, asa.name, asa.role, asa.region, asa.language, asa.phone) == (
        2,
        "Åsa Öberg",
        "Ordförande",
        "Sörmland",
        "sv",
        "0155-123 45",
    )
    assert by_email["orjan@korsang.example.org"].name == "Örjan Ängström"
    assert by_email["ingrid.back@korforbund.example.org"].language == "en"  # "English"
    assert [(p.line, p.message.split(" '")[0]) for p in parsed.rejected] == [(5, "bad address"), (6, "missing address")]


def test_utf8_bom_export_with_english_headers_quoted_fields_and_duplicates():
    parsed = parse(BOM)

    assert [(row.line, row.email) for row in parsed.rows] == [
        (2, "lena.sjoberg@ungkultur.example.net"),
        (3, "asa.oberg@korforbund.example.org"),  # upper case in the file
        (4, "per.nystrom@ungkultur.example.net"),
        (6, "lena.sjoberg@ungkultur.example.net"),
        (8, "zoe.aberg@ungkultur.example.net"),
    ]
    rows = {row.line: row for row in parsed.rows}
    assert rows[2].role == "Ledamot, valberedning"
    assert rows[4].name == "Per Nyström"  # line break inside quotes folded
    assert rows[8].name == "Zoë Åberg"
    assert rows[8].language is None
    assert [(p.line, p.message) for p in parsed.warnings] == [(8, "unknown language 'klingon' ignored (use sv or en)")]
    assert [p.line for p in parsed.rejected] == [7]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
@pytest.mark.parametrize("delimiter", [",", ";"])
def test_encodings_and_delimiters_give_the_same_rows(make_csv, encoding, delimiter):
    lines = [
        ["e-post", "namn", "roll"],
        ["Göran.Åberg@Example.org", "Göran Åberg", "Kassör"],
        ["ärlig@example.org", "Ärlig Öst", ""],
    ]
    path = make_csv("lista.csv", "\r\n".join(delimiter.join(cells) for cells in lines) + "\r\n", encoding=encoding)

    parsed = parse(path)

    assert [(r.line, r.email, r.name, r.role) for r in parsed.rows] == [
        (2, "göran.åberg@example.org", "Göran Åberg", "Kassör"),
        (3, "ärlig@example.org", "Ärlig Öst", None),
    ]
    assert parsed.rejected == []


@pytest.mark.parametrize(
    ("header", "field", "value"),
    [
        ("E-post", "email", "a@example.org"),
        ("EPOST", "email", "a@example.org"),
        ("Email", "email", "a@example.org"),
        ("Namn", "name", "Anna Berg"),
        ("NAME", "name", "Anna Berg"),
        ("Roll", "role", "Kassör"),
        ("Role", "role", "Kassör"),
        ("REGION", "region", "Dalarna"),
        ("Språk", "language", "en"),
        ("Language", "language", "en"),
        ("Telefon", "phone", "070-123 45 67"),
        ("phone", "phone", "070-123 45 67"),
    ],
)
def test_headers_are_recognised_in_swedish_and_english_in_any_case(make_csv, header, field, value):
    columns = {"email": "E-post", field: header}
    values = {"email": "a@example.org", field: value}
    path = make_csv("lista.csv", ";".join(columns.values()) + "\n" + ";".join(values[k] for k in columns) + "\n")

    (row,) = parse(path).rows

    assert getattr(row, field) == value


@pytest.mark.parametrize(
    ("first", "last"), [("Förnamn", "Efternamn"), ("first_name", "last_name"), ("FIRST_NAME", "Last_Name")]
)
def test_first_and_last_name_columns_make_the_name(make_csv, first, last):
    path = make_csv("lista.csv", f"epost,{first},{last}\nkarin@example.org,Karin,Ödqvist\nolle@example.org,,Olsson\n")

    assert [r.name for r in parse(path).rows] == ["Karin Ödqvist", "Olsson"]


def test_only_the_email_column_is_required(make_csv):
    path = make_csv("lista.csv", "email\nA@Example.org\n\nb@example.org\n")

    parsed = parse(path)

    assert [(r.line, r.email, r.name, r.role, r.language) for r in parsed.rows] == [
        (2, "a@example.org", None, None, None),
        (4, "b@example.org", None, None, None),
    ]


def test_idn_domains_are_one_address_in_either_spelling():
    assert normalise_email("Åsa@Räksmörgås.Example.org") == "åsa@räksmörgås.example.org"
    assert normalise_email("asa@xn--rksmrgs-5wao1o.example.org") == normalise_email("asa@räksmörgås.example.org")


def test_addresses_are_checked_for_syntax_only_by_default(make_csv, monkeypatch):
    monkeypatch.setattr(dns.resolver, "default_resolver", NoSuchDomainResolver({"no-such-domain.example.org"}))
    path = make_csv("lista.csv", "email\nsomeone@no-such-domain.example.org\n")

    assert [r.email for r in parse(path).rows] == ["someone@no-such-domain.example.org"]
    assert [p.message for p in parse(path, check_dns=True).rejected] == [
        "undeliverable address 'someone@no-such-domain.example.org': "
        "The domain name no-such-domain.example.org does not exist."
    ]


@pytest.mark.parametrize(("name", "reason"), BROKEN.items())
def test_unreadable_data_files(name, reason):
    with pytest.raises(CsvFileError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse(DATA / name)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        (b"\n\n", "the file is empty"),
        (b"email,name\na@example.org,Caf\x81\n", "cannot decode the file as UTF-8 or Windows-1252"),
        (b"\xff\xfee\x00m\x00a\x00i\x00l\x00\n\x00", "binary content"),  # UTF-16 export
        (b'email,name\na@example.org,"never closed\n', "broken CSV quoting"),
    ],
)
def test_unreadable_files(make_csv, content, reason):
    with pytest.raises(CsvFileError, match=reason):
        parse(make_csv("lista.csv", content))


class NoSuchDomainResolver:
    """Stands in for DNS (dnspython's default resolver): the listed domains do not exist."""

    lifetime = 1.0

    def __init__(self, missing: set[str]):
        self.missing = missing

    def resolve(self, domain, rdtype):
        if domain in self.missing:
            raise dns.resolver.NXDOMAIN()
        raise dns.resolver.NoNameservers()  # email-validator lets unknown deliverability through


# --- importing into the database -------------------------------------------------


def test_import_stores_contacts_memberships_and_organisations(db):
    report = run_import(db, [WIN, BOM])

    assert [f.summary() for f in report.files] == [
        WIN_SUMMARY,
        "ung-kultur-dalarna.csv: 4 new, 0 changed, 0 unchanged, 0 removed, 1 rejected",
    ]
    assert report.exit_code == 1 and report.written
    with db.transaction() as session:
        orgs = {o.slug: (o.name, o.region, o.contacts) for o in list_organisations(session)}
        emails = [c.email for c in list_contacts(session)]
    assert orgs == {
        "sormlands-korforbund": ("Sörmlands Körförbund", "Sörmland", 4),
        "ung-kultur-dalarna": ("Ung Kultur Dalarna", "Dalarna", 4),
    }
    assert len(emails) == 7  # Åsa is in both lists
    assert "marta.ek@körsång.example.org" in emails

    asa = contact(db, "asa.oberg@korforbund.example.org")
    assert asa.name == "Åsa Öberg"
    assert (asa.language, asa.region, asa.phone) == ("sv", "Sörmland", "0155-123 45")
    assert roles(asa) == {"sormlands-korforbund": "Ordförande", "ung-kultur-dalarna": "Kassör"}


def test_same_person_twice_in_one_file_is_one_contact_and_one_membership(db, make_csv):
    path = make_csv("korpen.csv", "email,name,role\nnils@example.org,Nils,\nNILS@example.org,Nils Holm,Kassör\n")

    report = run_import(db, [path])

    (file,) = report.files
    assert (file.imported, file.unchanged) == (1, 0)  # a duplicate row is a warning, not a person
    assert [(w.line, w.message) for w in file.warnings] == [(3, "same address as line 2: merged")]
    nils = contact(db, "nils@example.org")
    assert nils.name == "Nils Holm"  # later non-empty cells win
    assert roles(nils) == {"korpen": "Kassör"}


def test_new_people_are_stored_as_the_orm_would_store_them(db, make_csv):
    """The bulk insert (one executemany) must store what the ORM stores, column defaults included."""
    start = utcnow()
    run_import(db, [make_csv("korpen.csv", "email,name,role\nasa@example.org,Åsa Ek,Ordförande\nbo@example.org,,\n")])
    run_import(db, [make_csv("ung.csv", "email,role\nbo@example.org,Kassör\nce@example.org,\n")])

    asa, bo, ce = (contact(db, f"{who}@example.org") for who in ("asa", "bo", "ce"))
    assert (asa.name, bo.name, bo.phone) == ("Åsa Ek", None, None)
    assert roles(asa) == {"korpen": "Ordförande"}
    assert roles(bo) == {"korpen": None, "ung": "Kassör"}
    assert roles(ce) == {"ung": None}
    assert len({asa.link_key, bo.link_key, ce.link_key}) == 3
    for person in (asa, bo, ce):
        assert person.created_at.tzinfo is not None and start <= person.created_at <= utcnow()
        assert person.updated_at == person.created_at
        first = min(m.created_at for m in person.memberships)
        assert first == person.created_at  # a person and their first membership: one import, one time
    assert max(m.created_at for m in bo.memberships) > bo.created_at  # the second list came later


def test_reimporting_the_same_files_changes_nothing(db):
    run_import(db, [WIN, BOM])
    before = snapshot(db)

    report = run_import(db, [WIN, BOM])

    assert [f.summary() for f in report.files] == [
        "sormlands-korforbund.csv: 0 new, 0 changed, 4 unchanged, 0 removed, 2 rejected",
        "ung-kultur-dalarna.csv: 0 new, 0 changed, 4 unchanged, 0 removed, 1 rejected",
    ]
    after = snapshot(db)
    # the rejection log is rewritten (same content, new ids); everything else is identical
    strip_ids = lambda rows: sorted(r[1:5] for r in rows)  # noqa: E731
    assert strip_ids(after.pop("import_rejections")) == strip_ids(before.pop("import_rejections"))
    assert after == before


def test_a_changed_name_or_role_is_updated(db, make_csv):
    path = make_csv("korpen.csv", "email,name,role\nnils@example.org,Nils Holm,Ledamot\nbo@example.org,Bo Ek,\n")
    run_import(db, [path])
    path.write_text("email,name,role\nnils@example.org,Nils Holmberg,Ledamot\nbo@example.org,Bo Ek,Kassör\n")

    report = run_import(db, [path])

    assert report.files[0].summary() == "korpen.csv: 0 new, 2 changed, 0 unchanged, 0 removed, 0 rejected"
    assert contact(db, "nils@example.org").name == "Nils Holmberg"
    assert roles(contact(db, "bo@example.org")) == {"korpen": "Kassör"}


def test_a_suppressed_address_stays_suppressed_on_reimport(db, make_csv):
    path = make_csv("korpen.csv", "email,name\nnils@example.org,Nils\nbo@example.org,Bo\n")
    run_import(db, [path])
    suppress(db, "nils@example.org", SuppressionReason.UNSUBSCRIBED)
    suppress(db, "bo@example.org", SuppressionReason.BOUNCED)

    report = run_import(db, [path])

    assert report.files[0].summary() == (
        "korpen.csv: 0 new, 0 changed, 2 unchanged, 0 removed, 0 rejected (2 suppressed stay suppressed)"
    )
    with db.transaction() as session:
        reasons = dict(session.execute(select(Suppression.email, Suppression.reason)).all())
    assert reasons == {"nils@example.org": SuppressionReason.UNSUBSCRIBED, "bo@example.org": SuppressionReason.BOUNCED}


def test_a_suppressed_address_imported_for_the_first_time_stays_suppressed(db, make_csv):
    suppress(db, "nils@example.org", SuppressionReason.UNSUBSCRIBED)

    report = run_import(db, [make_csv("korpen.csv", "email\nNils@Example.org\n")])

    assert report.files[0].suppressed == 1
    with db.transaction() as session:
        assert (
            session.scalar(select(Suppression.reason).where(Suppression.email == "nils@example.org")) == "unsubscribed"
        )


def test_an_erased_address_is_not_stored_again(db, make_csv):
    suppress(db, "erased.person@example.org", SuppressionReason.ERASED)
    path = make_csv("korpen.csv", "email,name\nErased.Person@EXAMPLE.org,Erased Person\nbo@example.org,Bo\n")

    report = run_import(db, [path])

    assert report.files[0].summary() == (
        "korpen.csv: 1 new, 0 changed, 0 unchanged, 0 removed, 0 rejected (1 erased on request, skipped)"
    )
    assert contact(db, "erased.person@example.org") is None
    assert "erased.person@example.org" not in json.dumps(snapshot(db), default=str)


def test_same_person_in_two_organisations_files_is_one_contact_with_two_memberships(db, make_csv):
    a = make_csv("korpen.csv", "e-post;namn;roll\nkim@example.org;Kim Lund;Ordförande\n")
    b = make_csv("bygdegardarna.csv", "email,name,role\nKIM@example.org,Kim Lund,Kassör\n")

    run_import(db, [a])
    report = run_import(db, [b])

    assert report.files[0].summary() == "bygdegardarna.csv: 1 new, 0 changed, 0 unchanged, 0 removed, 0 rejected"
    assert roles(contact(db, "kim@example.org")) == {"korpen": "Ordförande", "bygdegardarna": "Kassör"}
    with db.transaction() as session:
        assert list(session.scalars(select(Contact.email))) == ["kim@example.org"]


def test_two_lists_that_spell_one_person_differently_keep_their_own_and_settle(db, make_csv):
    a = make_csv("korpen.csv", "email,name,telefon\nleyla@example.org,Leyla SEHLSTEDT,070-111\n")
    b = make_csv("hembygd.csv", "email,name,telefon\nleyla@example.org,Leyla Sehlstedt,070-111\n")

    first = run_import(db, [a, b])
    again = run_import(db, [a, b])

    # The most recently confirmed spelling is shown; each list keeps its own; nothing flips.
    assert contact(db, "leyla@example.org").name == "Leyla Sehlstedt"
    assert [f.summary() for f in again.files] == [
        "korpen.csv: 0 new, 0 changed, 1 unchanged, 0 removed, 0 rejected",
        "hembygd.csv: 0 new, 0 changed, 1 unchanged, 0 removed, 0 rejected",
    ]
    (disagreement,) = first.files[1].disagreements
    assert (disagreement.line, disagreement.shown, disagreement.result) == (2, "Leyla SEHLSTEDT", "Leyla Sehlstedt")
    assert disagreement.options == {"Leyla SEHLSTEDT": ["Korpen"], "Leyla Sehlstedt": ["Hembygd"]}
    assert again.files[1].disagreements == []
    with db.transaction() as session:
        assert dict(session.execute(select(Organisation.slug, Membership.name).join(Membership)).all()) == {
            "korpen": "Leyla SEHLSTEDT",
            "hembygd": "Leyla Sehlstedt",
        }
    alone = run_import(db, [b])  # stating the same again confirms nothing new
    assert alone.files[0].summary() == "hembygd.csv: 0 new, 0 changed, 1 unchanged, 0 removed, 0 rejected"
    assert contact(db, "leyla@example.org").name == "Leyla Sehlstedt"


def test_idn_address_in_either_spelling_is_one_contact(db, make_csv):
    a = make_csv("korpen.csv", "email\nasa@räksmörgås.example.org\n")
    b = make_csv("bygdegardarna.csv", "email\nASA@xn--rksmrgs-5wao1o.example.org\n")

    run_import(db, [a, b])

    assert set(roles(contact(db, "asa@räksmörgås.example.org"))) == {"korpen", "bygdegardarna"}


def test_organisation_is_the_org_option_or_the_file_stem(db, make_csv):
    path = make_csv("Korpen-Sormland.csv", "email\nbo@example.org\n")

    run_import(db, [path])
    run_import(db, [path], org="ax-kansliet")

    with db.transaction() as session:
        orgs = {o.slug: o.name for o in list_organisations(session)}
    assert orgs == {"korpen-sormland": "Korpen Sormland", "ax-kansliet": "Ax Kansliet"}


def test_organisation_display_name_comes_from_organisations_csv_beside_the_list(db, make_csv):
    make_csv("organisations.csv", "slug,name,region\nkorpen,Korpen Sörmland,Sörmland\n")
    path = make_csv("korpen.csv", "email\nbo@example.org\n")

    run_import(db, [path])

    with db.transaction() as session:
        (org,) = list_organisations(session)
    assert (org.slug, org.name, org.region, org.contacts) == ("korpen", "Korpen Sörmland", "Sörmland", 1)


def test_organisations_csv_itself_is_not_imported_as_a_list(db):
    report = run_import(db, [DATA / "organisations.csv"])

    assert report.files[0].summary() == "organisations.csv: organisation names, not a contact list: skipped"
    assert report.exit_code == 0


def test_a_file_stem_that_is_not_a_slug_is_refused(db, make_csv):
    report = run_import(db, [make_csv("Medlemmar 2024.csv", "email\nbo@example.org\n")])

    assert report.exit_code == 2
    assert "is not a valid organisation slug" in report.files[0].error
    assert contact(db, "bo@example.org") is None


@pytest.mark.parametrize("name", BROKEN)
def test_nothing_from_an_unreadable_file_but_other_files_are_imported(db, name):
    report = run_import(db, [DATA / name, WIN])

    assert report.exit_code == 2
    assert report.files[0].summary().startswith(f"{name}: not imported: ")
    assert report.files[1].summary() == WIN_SUMMARY
    with db.transaction() as session:
        assert [o.slug for o in list_organisations(session)] == ["sormlands-korforbund"]
    assert contact(db, "good.person@quote.example.org") is None


def test_rejected_rows_are_kept_for_the_organisation_and_replaced_on_reimport(db):
    run_import(db, [WIN])
    run_import(db, [WIN])

    with db.transaction() as session:
        rows = session.execute(select(ImportRejection.file_name, ImportRejection.line, ImportRejection.value)).all()
    assert sorted(rows) == [
        ("sormlands-korforbund.csv", 5, "bjorn.akesson(at)korforbund.example.org"),
        ("sormlands-korforbund.csv", 6, None),
    ]


def test_dry_run_reports_the_same_and_writes_nothing(db):
    before = snapshot(db)

    dry = run_import(db, [WIN, BOM], dry_run=True)

    assert snapshot(db) == before
    assert not dry.written
    real = run_import(db, [WIN, BOM])
    assert [f.summary() for f in dry.files] == [f.summary() for f in real.files]
    assert dry.exit_code == real.exit_code == 1


def test_strict_aborts_everything_when_a_row_is_rejected(db, make_csv):
    good = make_csv("korpen.csv", "email\nbo@example.org\n")
    before = snapshot(db)

    report = run_import(db, [good, WIN], strict=True)

    assert not report.written
    assert report.exit_code == 1
    assert snapshot(db) == before


def test_strict_writes_when_every_row_is_good(db, make_csv):
    report = run_import(db, [make_csv("korpen.csv", "email\nbo@example.org\n")], strict=True)

    assert report.written and report.exit_code == 0
    assert roles(contact(db, "bo@example.org")) == {"korpen": None}


def test_contacts_are_keyed_lower_case(db, make_csv):
    run_import(db, [make_csv("korpen.csv", "email\nBo.Ek@Example.ORG\n")])

    with db.transaction() as session:
        assert list(session.scalars(select(Contact.email))) == ["bo.ek@example.org"]
        assert session.scalar(select(Membership.role)) is None
        assert session.scalar(select(Organisation.slug)) == "korpen"


# --- through the command line ----------------------------------------------------


def test_cli_clean_file_exits_0_with_a_summary(runner, make_csv):
    path = make_csv("korpen.csv", "email,name\nbo@example.org,Bo Ek\nkim@example.org,Kim Lund\n")

    result = runner.invoke(["contacts", "import", path])

    assert result.exit_code == 0
    assert result.stdout == "korpen.csv: 2 new, 0 changed, 0 unchanged, 0 removed, 0 rejected\n"
    assert result.stderr == ""


def test_cli_rejected_rows_exit_1_with_file_line_reasons_and_good_rows_kept(runner):
    result = runner.invoke(["contacts", "import", WIN, BOM])

    assert result.exit_code == 1
    assert stderr_errors(result) == WIN_REJECTED + [
        f"{BOM}:7: bad address 'oops@': There must be something after the @-sign."
    ]
    assert f"{BOM}:6: warning: same address as line 2: merged" in result.stderr
    assert result.stdout.splitlines() == [
        WIN_SUMMARY,
        "ung-kultur-dalarna.csv: 4 new, 0 changed, 0 unchanged, 0 removed, 1 rejected",
    ]
    listed = json.loads(runner.invoke(["contacts", "list", "--json"]).stdout)
    assert len(listed) == 7
    asa = next(c for c in listed if c["email"] == "asa.oberg@korforbund.example.org")
    assert asa["name"] == "Åsa Öberg"
    assert sorted(o["slug"] for o in asa["organisations"]) == ["sormlands-korforbund", "ung-kultur-dalarna"]


@pytest.mark.parametrize(("name", "reason"), BROKEN.items())
def test_cli_unreadable_file_exits_2_and_imports_nothing_from_it(runner, name, reason):
    path = DATA / name

    result = runner.invoke(["contacts", "import", path, WIN])

    assert result.exit_code == 2
    assert f"{path}: {reason}" in result.stderr
    assert result.stdout.splitlines()[0].startswith(f"{name}: not imported: {reason}")
    assert result.stdout.splitlines()[1] == WIN_SUMMARY
    slugs = [o["slug"] for o in json.loads(runner.invoke(["orgs", "list", "--json"]).stdout)]
    assert slugs == ["sormlands-korforbund"]


def test_cli_missing_file_exits_2(runner, tmp_path):
    result = runner.invoke(["contacts", "import", tmp_path / "saknas.csv"])

    assert result.exit_code == 2
    assert "cannot read the file" in result.stderr


def test_cli_reimport_reports_unchanged(runner):
    runner.invoke(["contacts", "import", WIN])

    result = runner.invoke(["contacts", "import", WIN])

    assert result.exit_code == 1
    assert result.stdout == "sormlands-korforbund.csv: 0 new, 0 changed, 4 unchanged, 0 removed, 2 rejected\n"


def test_cli_dry_run_reports_the_same_without_writing(runner, db):
    before = snapshot(db)

    result = runner.invoke(["contacts", "import", "--dry-run", WIN, BOM])

    assert result.exit_code == 1
    assert stderr_errors(result)[:2] == WIN_REJECTED
    assert result.stdout.splitlines() == [
        WIN_SUMMARY,
        "ung-kultur-dalarna.csv: 4 new, 0 changed, 0 unchanged, 0 removed, 1 rejected",
        "dry run: nothing was written",
    ]
    assert snapshot(db) == before


def test_cli_strict_aborts_the_whole_import(runner, db, make_csv):
    good = make_csv("korpen.csv", "email\nbo@example.org\n")
    before = snapshot(db)

    result = runner.invoke(["contacts", "import", "--strict", good, WIN])

    assert result.exit_code == 1
    assert stderr_errors(result) == WIN_REJECTED
    assert result.stdout.splitlines()[-1] == "strict: a file or rows were rejected, nothing was written"
    assert snapshot(db) == before


def test_cli_strict_with_an_unreadable_file_exits_2_and_writes_nothing(runner, db, make_csv):
    good = make_csv("korpen.csv", "email\nbo@example.org\n")
    before = snapshot(db)

    result = runner.invoke(["contacts", "import", "--strict", good, DATA / "no-email-column.csv"])

    assert result.exit_code == 2
    assert snapshot(db) == before


def test_cli_org_option_puts_every_file_in_one_organisation(runner):
    result = runner.invoke(["contacts", "import", "--org", "ax-kansliet", WIN, BOM])

    assert result.exit_code == 1
    orgs = json.loads(runner.invoke(["orgs", "list", "--json"]).stdout)
    assert orgs == [{"slug": "ax-kansliet", "name": "Ax Kansliet", "short_name": None, "region": None, "contacts": 7}]


def test_cli_check_dns_rejects_domains_that_do_not_exist(runner, make_csv, monkeypatch):
    monkeypatch.setattr(dns.resolver, "default_resolver", NoSuchDomainResolver({"no-such-domain.example.org"}))
    path = make_csv("korpen.csv", "email\nbo@example.org\nsomeone@no-such-domain.example.org\n")

    checked = runner.invoke(["contacts", "import", "--check-dns", "--dry-run", path])
    unchecked = runner.invoke(["contacts", "import", "--dry-run", path])

    assert checked.exit_code == 1
    assert stderr_errors(checked) == [
        f"{path}:3: undeliverable address 'someone@no-such-domain.example.org': "
        "The domain name no-such-domain.example.org does not exist."
    ]
    assert unchecked.exit_code == 0


def test_cli_contacts_list_by_organisation(runner):
    runner.invoke(["contacts", "import", WIN, BOM])

    result = runner.invoke(["contacts", "list", "--org", "ung-kultur-dalarna"])

    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[-1] == "4 contacts"
    assert [line.split()[0] for line in lines[:-1]] == [
        "asa.oberg@korforbund.example.org",
        "lena.sjoberg@ungkultur.example.net",
        "per.nystrom@ungkultur.example.net",
        "zoe.aberg@ungkultur.example.net",
    ]
    assert "sormlands-korforbund (Ordförande), ung-kultur-dalarna (Kassör)" in lines[0]
    as_json = json.loads(runner.invoke(["contacts", "list", "--org", "ung-kultur-dalarna", "--json"]).stdout)
    assert [c["email"] for c in as_json] == [line.split()[0] for line in lines[:-1]]
    assert as_json[2]["name"] == "Per Nyström"


def test_cli_contacts_list_unknown_organisation(runner):
    result = runner.invoke(["contacts", "list", "--org", "finns-inte"])

    assert result.exit_code == 1
    assert "no organisation with slug 'finns-inte'" in result.stderr


def test_cli_orgs_list_with_contact_counts(runner):
    runner.invoke(["contacts", "import", WIN, BOM])

    result = runner.invoke(["orgs", "list"])
    as_json = json.loads(runner.invoke(["orgs", "list", "--json"]).stdout)

    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "2 organisations, 8 memberships"
    assert as_json == [
        {
            "slug": "sormlands-korforbund",
            "name": "Sörmlands Körförbund",
            "short_name": None,
            "region": "Sörmland",
            "contacts": 4,
        },
        {
            "slug": "ung-kultur-dalarna",
            "name": "Ung Kultur Dalarna",
            "short_name": None,
            "region": "Dalarna",
            "contacts": 4,
        },
    ]


def test_cli_import_from_a_copied_folder_uses_that_folders_names(runner, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(WIN, folder / WIN.name)  # no organisations.csv beside it

    assert runner.invoke(["contacts", "import", folder / WIN.name]).exit_code == 1

    (org,) = json.loads(runner.invoke(["orgs", "list", "--json"]).stdout)
    assert (org["slug"], org["name"]) == ("sormlands-korforbund", "Sormlands Korforbund")


def test_cli_unreadable_organisations_csv_beside_a_list_is_reported_not_a_crash(runner, make_csv):
    make_csv("organisations.csv", b"slug,name\x00\x01")
    path = make_csv("korpen.csv", "email\nbo@example.org\n")

    result = runner.invoke(["contacts", "import", path])

    assert result.exit_code == 2
    assert f"{path}: organisations.csv beside it cannot be read: not a CSV file (binary content)" in result.stderr
    assert json.loads(runner.invoke(["orgs", "list", "--json"]).stdout) == []


def test_cli_undecodable_file_exits_2_and_imports_nothing(runner, make_csv):
    # 0x81 is neither UTF-8 nor defined in Windows-1252
    path = make_csv("korpen.csv", b"email,name\nbo@example.org,Bo\nkim@example.org,Caf\x81\n")

    result = runner.invoke(["contacts", "import", path])

    assert result.exit_code == 2
    assert result.stderr == f"{path}: cannot decode the file as UTF-8 or Windows-1252 (byte 48)\n"
    assert result.stdout == "korpen.csv: not imported: cannot decode the file as UTF-8 or Windows-1252 (byte 48)\n"
    assert json.loads(runner.invoke(["contacts", "list", "--json"]).stdout) == []
