"""Clean data in: one canonical region for every spelling, headers by a documented alias table,
each list's own spelling of a person, clean text, and problems staff must choose before import."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest
from sqlalchemy import select
from staff_helpers import post, text, upload

from mailer.campaigns.audience import Audience, recipients_query
from mailer.contacts.csvfile import FIELDS, HEADER_TABLE, Choices, parse
from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact, Membership, Organisation
from mailer.regions import NATIONAL, REGIONS, canonical_region, fold, region_names, suggest_region

ROOT = Path(__file__).resolve().parents[1]


def run_import(db, paths, **options):
    with db.transaction() as session:
        return import_lists(session, [Path(p) for p in paths], **options)


def memberships(db, email: str) -> dict[str, tuple]:
    with db.transaction() as session:
        return {
            slug: (name, title, region, role)
            for slug, name, title, region, role in session.execute(
                select(Organisation.slug, Membership.name, Membership.title, Membership.region, Membership.role)
                .join(Membership)
                .join(Contact)
                .where(Contact.email == email)
            )
        }


def shown(db, email: str) -> tuple:
    with db.transaction() as session:
        return tuple(session.execute(select(Contact.name, Contact.region).where(Contact.email == email)).one())


# -- regions -------------------------------------------------------------------------------------

SPELLINGS = {
    "Sörmland": [
        "Sörmland",
        "Södermanland",
        "Region Sörmland",
        "Landstinget Sörmland",
        "Södermanlands län",
        "Landstinget Sörmlands",
        "sörmland",
        "SÖRMLAND",
        "Sormland",
        "  Region   Sörmland ",
        "Södermanlands läns landsting",
        "Region Södermanland",
    ],
    "Västra Götaland": [
        "VGR",
        "vgr",
        "Västra Götaland",
        "Västra Götalandsregionen",
        "Västra Götalands län",
        "Region Västra Götaland",
        "Vastra Gotaland",
        "VG-regionen",
    ],
    "Jämtland Härjedalen": [
        "Jämtland",
        "Jämtland Härjedalen",
        "Region JH",
        "JH",
        "Jämtland/Härjedalen",
        "Jämtland-Härjedalen",
        "Jämtlands län",
        "Region Jämtland Härjedalen",
        "Härjedalen",
        "jamtland harjedalen",
        "Jämtland Härjedalens län",
    ],
    "Stockholm": ["Stockholms län", "Region Stockholm", "SLL", "Stockholms läns landsting"],
    "Örebro": ["Region Örebro län", "Örebro läns landsting", "Orebro"],
    "Dalarna": ["Dalarnas län", "Landstinget Dalarna", "Region Dalarna", "Kopparbergs län", "dalarna"],
    "Gävleborg": ["Gävleborgs län", "Region Gävleborg", "Gavleborg"],
    "Norrbotten": ["Region Norrbotten", "Norrbottens läns landsting", "Norrbottens län"],
    "Skåne": ["Region Skåne", "Skåne län", "Skånes", "Skane"],
    "Gotland": ["Region Gotland", "Gotlands län"],
    NATIONAL: ["Hela landet", "hela Sverige", "Nationell", "Riks"],
}


@pytest.mark.parametrize("written, region", [(w, r) for r, ws in SPELLINGS.items() for w in ws])
def test_every_spelling_people_use_is_one_region(written, region):
    assert canonical_region(written) == region


@pytest.mark.parametrize("region", [r for r in REGIONS if r != NATIONAL])
def test_every_region_in_every_form(region):
    for form in (
        region,
        f"Region {region}",
        f"Landstinget {region}",
        f"{region} län",
        f"{region}s län",
        f"Region {region}s län",
        region.upper(),
        region.lower(),
        fold(region),
        f"  {region}  ",
        unicodedata.normalize("NFD", region),
        f"{region}s läns landsting",
        *REGIONS[region],
    ):
        assert canonical_region(form) == region, form


def test_the_fixed_list_is_the_21_regions_and_the_whole_country():
    names = region_names()
    assert len(names) == 22 and names[-1] == NATIONAL and len(set(names)) == 22
    for not_a_region in ("", "  ", "Region", "län", "Norge", "Åland", "X"):
        assert canonical_region(not_a_region) is None, not_a_region
    assert suggest_region("Sörmlnd") == "Sörmland" and suggest_region("Vastmanlnd") == "Västmanland"
    assert suggest_region("qqqq") is None


# -- the header alias table ----------------------------------------------------------------------


def _variants(alias: str) -> set[str]:
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", alias) if not unicodedata.combining(ch))
    return {
        alias,
        alias.upper(),
        alias.title(),
        alias.replace("-", " "),
        alias.replace(" ", "-"),
        alias.replace(" ", "").replace("-", ""),
        plain,
        f" {alias} ",
    }


ALIASES = [(f, a) for f, aliases in HEADER_TABLE.items() for a in aliases]


@pytest.mark.parametrize("field, alias", ALIASES)
def test_every_alias_in_the_table_is_read_in_any_case_spacing_and_accents(tmp_path, field, alias):
    values = {
        "email": "anna@kor.example.org",
        "name": "Anna Ek",
        "first_name": "Anna",
        "last_name": "Ek",
        "title": "Verksamhetsledare",
        "role": "ordförande",
        "region": "Region Sörmland",
        "language": "en",
        "phone": "070-123",
        "ignore": "1007",
    }
    for header in _variants(alias):
        columns = [(header, values[field])]
        if field != "email":
            columns.append(("e-post", values["email"]))
        if field == "first_name":
            columns.append(("efternamn", "Ek"))
        if field == "last_name":
            columns.append(("förnamn", "Anna"))
        data = (";".join(h for h, _ in columns) + "\n" + ";".join(v for _, v in columns) + "\n").encode()
        parsed = parse(tmp_path / "kor.csv", data=data)
        assert parsed.blocking == [], (header, parsed.blocking)
        (row,) = parsed.rows
        assert row.email == "anna@kor.example.org", header
        expected = {
            "name": ("name", "Anna Ek"),
            "first_name": ("name", "Anna Ek"),
            "last_name": ("name", "Anna Ek"),
            "title": ("title", "Verksamhetsledare"),
            "role": ("role", "ordförande"),
            "region": ("region", "Sörmland"),
            "language": ("language", "en"),
            "phone": ("phone", "070-123"),
        }
        if field in expected:
            attr, value = expected[field]
            assert getattr(row, attr) == value, header


def test_the_readme_documents_exactly_the_alias_table():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Contact lists") :]
    section = section[: section.index("\n## ", 5)]
    documented: dict[str, set[str]] = {}
    for field, cell in re.findall(r"^\s*\| `(\w+)` \| [^|`]* \| (.+) \|$", section, re.M):
        documented[field] = set(re.findall(r"`([^`]+)`", cell))
    assert {f: set(a) for f, a in HEADER_TABLE.items()} == documented


def test_two_columns_for_one_field_and_an_unknown_header_are_named_with_the_fix(db, make_csv, runner):
    path = make_csv("kor.csv", "E-post;Namn;Mejl;Medlemsfärg\nanna@kor.example.org;Anna;anna@hem.example.org;blå\n")
    report = run_import(db, [path])
    (file,) = report.files
    assert report.exit_code == 2 and file.imported == 1  # counted for the preview, not written
    problems = {p.code: p for p in file.blocking}
    assert problems["duplicate_column"].params == {
        "column": 3,
        "header": "Mejl",
        "field": "email",
        "other_column": 1,
        "other_header": "E-post",
    }
    assert problems["unknown_column"].params["header"] == "Medlemsfärg"
    assert problems["unknown_column"].choice == "column:4"
    with db.transaction() as session:
        assert session.scalar(select(Contact)) is None

    result = runner.invoke(["contacts", "import", path])
    assert result.exit_code == 2
    assert f"{path}:1: columns 1 'E-post' and 3 'Mejl' are both read as email" in result.stderr
    assert f"{path}:1: column 4 'Medlemsfärg' is not a known header" in result.stderr
    assert "kor.csv: not imported: 2 problem(s) to fix in the file or to choose" in result.stdout

    result = runner.invoke(["contacts", "import", path, "--column", "Mejl=ignore", "--column", "4=ignore"])
    assert result.exit_code == 0, result.output
    assert "kor.csv: 1 new, 0 changed, 0 unchanged, 0 removed, 0 rejected" in result.stdout
    bad = runner.invoke(["contacts", "import", path, "--column", "Mejl=favourite"])
    assert bad.exit_code != 0 and "--column: 'favourite' is not one of" in bad.output
    assert set(FIELDS) >= {"email", "name", "title", "role", "region"}


def test_an_unknown_region_imports_nothing_until_chosen(db, make_csv, runner):
    path = make_csv(
        "kor.csv",
        "email,name,län\nanna@kor.example.org,Anna,Sörmlnd\nbo@kor.example.org,Bo,VGR\n"
        "cia@kor.example.org,Cia,Sörmlnd\n",
    )
    result = runner.invoke(["contacts", "import", path])
    assert result.exit_code == 2
    assert (
        f"{path}:2: unknown region 'Sörmlnd' on line 2 (and 1 more): did you mean Sörmland? write one of "
        "the 21 regions or 'Hela landet', or choose with --map-region 'Sörmlnd'=REGION"
    ) in result.stderr
    with db.transaction() as session:
        assert session.scalar(select(Contact)) is None
    bad = runner.invoke(["contacts", "import", path, "--map-region", "Sörmlnd=Narnia"])
    assert bad.exit_code != 0 and "'Narnia' is not a region" in bad.output
    result = runner.invoke(["contacts", "import", path, "--map-region", "Sörmlnd=Region Sörmland"])
    assert result.exit_code == 0, result.output
    assert shown(db, "anna@kor.example.org") == ("Anna", "Sörmland")
    assert shown(db, "bo@kor.example.org") == ("Bo", "Västra Götaland")  # a known variant: mapped silently


# -- a person on several lists ---------------------------------------------------------------------


def test_a_person_on_three_lists_with_three_spellings(db, make_csv):
    kor = make_csv("kor.csv", "email,namn,titel,län,roll\nleyla@ex.org,Leyla SEHLSTEDT,Kassör,Region Sörmland,kassör\n")
    dans = make_csv("dans.csv", "Mejladress;Förnamn;Efternamn;Region/län\nLEYLA@ex.org;Leyla;Sehlstedt;Södermanland\n")
    slojd = make_csv("slojd.csv", "E-post adress,Namn,Region\nleyla@ex.org,Leyla Sehlstedt-Berg,Landstinget Sörmland\n")

    first = run_import(db, [kor, dans, slojd])
    assert [f.summary() for f in first.files] == [
        f"{n}: 1 new, 0 changed, 0 unchanged, 0 removed, 0 rejected" for n in ("kor.csv", "dans.csv", "slojd.csv")
    ]
    assert memberships(db, "leyla@ex.org") == {
        "kor": ("Leyla SEHLSTEDT", "Kassör", "Sörmland", "kassör"),
        "dans": ("Leyla Sehlstedt", None, "Sörmland", None),
        "slojd": ("Leyla Sehlstedt-Berg", None, "Sörmland", None),
    }
    assert shown(db, "leyla@ex.org") == ("Leyla Sehlstedt-Berg", "Sörmland")  # the most recently confirmed
    (differs,) = first.files[2].disagreements
    assert differs.options == {
        "Leyla SEHLSTEDT": ["Kor"],
        "Leyla Sehlstedt": ["Dans"],
        "Leyla Sehlstedt-Berg": ["Slojd"],
    }

    again = run_import(db, [kor, dans, slojd])  # the same files again: nothing changes, nothing flips
    assert [f.summary() for f in again.files] == [
        f"{n}: 0 new, 0 changed, 1 unchanged, 0 removed, 0 rejected" for n in ("kor.csv", "dans.csv", "slojd.csv")
    ]
    assert all(f.disagreements == [] for f in again.files)
    assert shown(db, "leyla@ex.org") == ("Leyla Sehlstedt-Berg", "Sörmland")

    # Staff choose the spelling to show; importing again keeps their choice.
    chosen = run_import(db, [dans], choices=Choices(names={"leyla@ex.org": "Leyla Sehlstedt"}))
    assert chosen.files[0].summary() == "dans.csv: 0 new, 1 changed, 0 unchanged, 0 removed, 0 rejected"
    run_import(db, [kor, dans, slojd])
    assert shown(db, "leyla@ex.org") == ("Leyla Sehlstedt", "Sörmland")

    # A list that changes its own spelling confirms it anew.
    make_csv("kor.csv", "email,namn,titel,län,roll\nleyla@ex.org,Leyla Sehlstedt Ek,Kassör,Sörmland,kassör\n")
    changed = run_import(db, [kor])
    assert changed.files[0].summary() == "kor.csv: 0 new, 1 changed, 0 unchanged, 0 removed, 0 rejected"
    assert shown(db, "leyla@ex.org")[0] == "Leyla Sehlstedt Ek"


def test_the_counts_cover_new_changed_unchanged_and_removed(db, make_csv):
    path = make_csv("kor.csv", "email,name,role\na@ex.org,A,ledamot\nb@ex.org,B,\nc@ex.org,C,\n")
    run_import(db, [path])
    make_csv("kor.csv", "email,name,role\na@ex.org,A,ordförande\nb@ex.org,B,\nd@ex.org,D,\n")
    report = run_import(db, [path])
    file = report.files[0]
    assert (file.imported, file.updated, file.unchanged, file.removed) == (1, 1, 1, 1)
    with db.transaction() as session:
        members = set(session.scalars(select(Contact.email).join(Membership)))
        everyone = set(session.scalars(select(Contact.email)))
    assert members == {"a@ex.org", "b@ex.org", "d@ex.org"} and "c@ex.org" in everyone  # off the list, not deleted


# -- clean text ----------------------------------------------------------------------------------


def test_names_are_nfc_and_free_of_control_and_bidi_characters(db, make_csv):
    decomposed = unicodedata.normalize("NFD", "Åsa Öberg")
    make_csv("organisations.csv", "slug,name,region\nkor,Sveriges \u202eKörer\u202c,Region Dalarna\n")
    path = make_csv(
        "kor.csv", f"email,name\nasa@ex.org,{decomposed}\nevil@ex.org,Eve\u202egnalF\u200b\nok@ex.org,Olle\n"
    )
    report = run_import(db, [path])
    cleaned = [(w.line, w.code) for w in report.files[0].warnings]
    assert cleaned == [(2, "cleaned"), (3, "cleaned")]
    assert shown(db, "asa@ex.org")[0] == "Åsa Öberg" == unicodedata.normalize("NFC", "Åsa Öberg")
    assert shown(db, "evil@ex.org")[0] == "EvegnalF"
    with db.transaction() as session:
        organisation = session.scalar(select(Organisation).where(Organisation.slug == "kor"))
        assert (organisation.name, organisation.region) == ("Sveriges Körer", "Dalarna")


# -- segments --------------------------------------------------------------------------------------


def test_a_round_to_a_region_reaches_every_spelling_of_it(db, make_csv):
    run_import(
        db,
        [
            make_csv(
                "kor.csv",
                "email,region\na@ex.org,Sörmland\nb@ex.org,Region Sörmland\n"
                "c@ex.org,Södermanlands län\nd@ex.org,Landstinget Sörmland\n"
                "e@ex.org,Gävleborg\n",
            )
        ],
    )
    with db.transaction() as session:
        for asked in ("Sörmland", "Södermanland", "Region Sörmland"):
            ids = session.scalars(recipients_query(Audience(regions=[asked]), 0)).all()
            emails = set(session.scalars(select(Contact.email).where(Contact.id.in_(ids))))
            assert emails == {"a@ex.org", "b@ex.org", "c@ex.org", "d@ex.org"}, asked


# -- the web: choose in the preview, correct an organisation -----------------------------------------


def test_the_preview_offers_the_closest_region_and_imports_only_once_chosen(db, staff_client):
    data = "e-post;namn;län\nanna@ex.org;Anna;Sörmlnd\nbo@ex.org;Bo;Region JH\n".encode()
    reply = upload(staff_client, data, new_org="kor")
    page = reply.get_data(as_text=True)
    assert "Att rätta eller välja innan import (1)" in text(reply) and "Förslag: Sörmland." in text(reply)
    assert re.search(r'<select id="choice-1" name="region:Sörmlnd">\s*<option value="Sörmland" selected>', page)
    assert "Importera listan" not in text(reply)
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    form = {"token": token, "name": "lista.csv", "org": "kor"}

    refused = post(staff_client, "/staff/upload/confirm", form)  # nothing chosen yet: nothing imported
    assert refused.status_code == 422
    with db.transaction() as session:
        assert session.scalar(select(Contact)) is None

    checked = post(staff_client, "/staff/upload/check", {**form, "region:Sörmlnd": "Sörmland"})
    assert "Att rätta eller välja" not in text(checked) and "Importera listan" in text(checked)
    assert 'name="region:Sörmlnd" value="Sörmland"' in checked.get_data(as_text=True)  # carried to the confirm
    done = post(staff_client, "/staff/upload/confirm", {**form, "region:Sörmlnd": "Sörmland"})
    assert "Klart: 2 nya" in text(done)
    assert shown(db, "anna@ex.org") == ("Anna", "Sörmland") and shown(db, "bo@ex.org") == ("Bo", "Jämtland Härjedalen")


def test_the_preview_lists_disagreements_and_staff_choose_the_shown_name(db, staff_client, make_csv):
    run_import(db, [make_csv("kor.csv", "email,name\nleyla@ex.org,Leyla SEHLSTEDT\n")])
    reply = upload(staff_client, b"mejl,namn\nleyla@ex.org,Leyla Sehlstedt\n", new_org="dans")
    assert "Listorna skriver samma person olika (1)" in text(reply)
    assert "Leyla SEHLSTEDT (Kor)" in text(reply) and "Leyla Sehlstedt (Dans)" in text(reply)
    token = re.search(r'name="token" value="([^"]+)"', reply.get_data(as_text=True)).group(1)
    post(
        staff_client,
        "/staff/upload/confirm",
        {"token": token, "name": "lista.csv", "org": "dans", "name:leyla@ex.org": "Leyla SEHLSTEDT"},
    )
    assert shown(db, "leyla@ex.org")[0] == "Leyla SEHLSTEDT"
    assert memberships(db, "leyla@ex.org")["dans"][0] == "Leyla Sehlstedt"


def test_an_organisation_name_uploaded_without_accents_is_fixed_on_its_page(db, staff_client, make_csv, runner):
    folder_csv = make_csv("organisations.csv", "slug,name,region\nsveriges-forfattare,Sveriges Fortattare,\n")
    path = make_csv("sveriges-forfattare.csv", "email\nastrid@ex.org\n")
    run_import(db, [path])
    page = staff_client.get("/staff/organisations/sveriges-forfattare")
    assert 'value="Sveriges Fortattare"' in page.get_data(as_text=True)
    bad = post(
        staff_client,
        "/staff/organisations/sveriges-forfattare",
        {"name": " ", "short_name": "", "region": "", "contact_email": ""},
    )
    assert bad.status_code == 422 and "Skriv organisationens namn" in text(bad)
    too_long = post(
        staff_client,
        "/staff/organisations/sveriges-forfattare",
        {"name": "Sveriges Författare", "short_name": "S" * 41, "region": "", "contact_email": ""},
    )
    assert too_long.status_code == 422 and "Kortnamnet får vara högst 40 tecken." in text(too_long)
    assert 'id="org-short_name" name="short_name" value="' + "S" * 41 in too_long.get_data(as_text=True)  # kept
    saved = post(
        staff_client,
        "/staff/organisations/sveriges-forfattare",
        {
            "name": "Sveriges Författare\u202e",
            "short_name": " SFF\u202e ",
            "region": "Hela landet",
            "contact_email": "kansli@ex.org",
        },
    )
    assert saved.status_code == 303
    run_import(db, [path])  # organisations.csv still says otherwise: the staff's name stays
    with db.transaction() as session:
        organisation = session.scalar(select(Organisation).where(Organisation.slug == "sveriges-forfattare"))
        assert (organisation.name, organisation.short_name, organisation.region, organisation.contact_email) == (
            "Sveriges Författare",
            "SFF",
            "Hela landet",
            "kansli@ex.org",
        )
    assert folder_csv.exists()
    page = staff_client.get("/staff/organisations/sveriges-forfattare").get_data(as_text=True)
    assert 'value="SFF"' in page and "sveriges-forfattare" in page  # the slug stays, shown, not editable
    assert "Sveriges Författare (SFF)" in text(staff_client.get("/staff/organisations"))
    (listed,) = json.loads(runner.invoke(["orgs", "list", "--json"]).stdout)
    assert (listed["slug"], listed["name"], listed["short_name"]) == (
        "sveriges-forfattare",
        "Sveriges Författare",
        "SFF",
    )
    cleared = post(
        staff_client,
        "/staff/organisations/sveriges-forfattare",
        {"name": "Sveriges Författare", "short_name": " ", "region": "Hela landet", "contact_email": "kansli@ex.org"},
    )
    assert cleared.status_code == 303
    with db.transaction() as session:
        assert session.scalar(select(Organisation.short_name)) is None


def test_the_same_name_in_worse_case_is_no_new_spelling(db, make_csv):
    run_import(db, [make_csv("kor.csv", "email,name\ngoran@ex.org,Göran Åberg\n")])
    report = run_import(
        db,
        [
            make_csv("orkester.csv", "email,name\ngoran@ex.org,göran åberg\n"),
            make_csv("dans.csv", "email,name\ngoran@ex.org,GÖRAN ÅBERG\n"),
        ],
    )
    assert shown(db, "goran@ex.org")[0] == "Göran Åberg"
    assert [len(f.disagreements) for f in report.files] == [1, 1]  # still listed: staff may choose
