"""Organisations and contacts in the browser: upload (checked first, then confirmed), search,
edit, unsubscribe and re-subscribe, erase; each change in the audit log."""

from __future__ import annotations

import re

from sqlalchemy import select
from staff_helpers import STAFF_EMAIL, post, text, upload

from mailer.audit.models import AuditEntry
from mailer.contacts.csvfile import MAX_FILE_BYTES
from mailer.contacts.models import Contact, Membership, Organisation, Suppression, SuppressionReason
from mailer.contacts.subscriptions import lift_suppression, suppress, suppression_of

LIST = (
    "förnamn;efternamn;e-post;roll\n"
    "Anna;Andersson;anna@example.org;ordförande\n"
    "Bo;Berg;bo.example.org;kassör\n"
    "Cecilia;Cedergren;cecilia@example.org;\n"
).encode("cp1252")  # what Swedish Excel saves


def members(db, slug: str) -> list[str]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(Contact.email)
                .join(Membership)
                .join(Organisation)
                .where(Organisation.slug == slug)
                .order_by(Contact.email)
            )
        )


def audit(db) -> list[tuple[str, str | None]]:
    with db.transaction() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action != "staff.login").order_by(AuditEntry.id))
        return [(e.actor, e.action, e.target) for e in entries]


def test_an_upload_is_checked_first_and_imported_only_when_confirmed(app, db, staff_client):
    reply = upload(staff_client, LIST)
    page = text(reply)
    assert reply.status_code == 200
    assert (
        "Om du importerar: 2 nya, 0 ändrade, 0 oförändrade, 0 tas bort från listan, 1 rader med fel hoppas över."
        in page
    )
    assert "3 bo.example.org Ogiltig e-postadress." in page  # line, value, the importer's reason in Swedish
    assert "Ingenting är sparat ännu" in page
    assert members(db, "exempelforbundet") == [] and audit(db) == []

    token = re.search(r'name="token" value="([^"]+)"', reply.get_data(as_text=True)).group(1)
    form = {"token": token, "name": "lista.csv", "org": "exempelforbundet"}
    done = post(staff_client, "/staff/upload/confirm", form)
    assert "Klart: 2 nya, 0 ändrade, 0 oförändrade, 0 borttagna från listan, 1 rader med fel hoppades över." in text(
        done
    )
    assert re.search(r"2 rader lästa på [0-9.]+ s \([0-9]+ rader/s\)\.", text(done))  # how fast, for large lists
    assert members(db, "exempelforbundet") == ["anna@example.org", "cecilia@example.org"]
    assert audit(db) == [(STAFF_EMAIL, "contacts.import", "org:exempelforbundet")]
    assert list((app.extensions["mailer.settings"].instance_path / "uploads").iterdir()) == []
    again = post(staff_client, "/staff/upload/confirm", form)  # a second click, or the back button
    assert again.status_code == 410 and "Ladda upp den igen" in text(again)


def test_an_unreadable_file_imports_nothing(db, staff_client):
    reply = upload(staff_client, b"namn;telefon\nAnna;123\n")
    assert "Filen kunde inte läsas" in text(reply) and "Importera listan" not in text(reply)
    assert "Ingen kolumn för e-post" in text(reply) and "'namn', 'telefon'" in text(reply)
    binary = upload(staff_client, b"\x00\x01binary")
    assert binary.status_code == 200 and "Det är ingen CSV-fil" in text(binary)
    assert members(db, "exempelforbundet") == []


def test_a_list_as_large_as_the_command_line_takes_can_be_uploaded(app, db, staff_client):
    rows = "".join(f"person{i}@example.org,Person {i} {'x' * 40}\n" for i in range(50_000))
    data = ("email,name\n" + rows).encode()
    assert 2 * 1024 * 1024 < len(data) < MAX_FILE_BYTES  # over the public pages' body limit
    reply = upload(staff_client, data)
    assert reply.status_code == 200 and "Om du importerar: 50000 nya" in text(reply)
    # The cap is the max_upload_mb setting (default 50); a small one keeps the test quick.
    app.extensions["mailer.settings"] = app.extensions["mailer.settings"].with_overrides(max_upload_mb=3)
    limit = 3 * 1024 * 1024
    just_over = upload(staff_client, b"email\n" + b"a@example.org\n" * (limit // 14 + 1))
    assert just_over.status_code == 200 and "Filen är större än 3 MB" in text(just_over)
    far_over = upload(staff_client, b"email\n" + b"a@example.org\n" * (limit // 14 + 100_000))
    assert far_over.status_code == 413 and "högst 3 MB" in text(far_over)


def test_an_upload_for_an_existing_organisation_and_missing_input(db, staff_client, make_csv):
    with db.transaction() as session:
        session.add(Organisation(slug="korforbundet", name="Körförbundet"))
    assert "korforbundet" in upload(staff_client, LIST, org="korforbundet", new_org="").get_data(as_text=True)
    no_file = post(staff_client, "/staff/upload", {"org": "korforbundet"}, content_type="multipart/form-data")
    assert no_file.status_code == 422 and "Välj en fil" in text(no_file)
    no_org = upload(staff_client, LIST, new_org="")
    assert no_org.status_code == 422 and "Välj organisation" in text(no_org)
    bad_slug = upload(staff_client, LIST, new_org="Kör Förbundet")
    assert "duger inte som kortnamn för en organisation" in text(bad_slug)


def _contact(db, email="anna@example.org") -> int:
    with db.transaction() as session:
        return session.scalar(select(Contact.id).where(Contact.email == email))


def _imported(staff_client):
    reply = upload(staff_client, LIST)
    token = re.search(r'name="token" value="([^"]+)"', reply.get_data(as_text=True)).group(1)
    post(staff_client, "/staff/upload/confirm", {"token": token, "name": "lista.csv", "org": "exempelforbundet"})


def test_organisations_list_search_and_one_organisation(db, staff_client):
    _imported(staff_client)
    assert "Exempelforbundet 2" in text(staff_client.get("/staff/organisations"))
    found = text(staff_client.get("/staff/organisations?q=CECILIA"))
    assert "1 träffar" in found and "cecilia@example.org" in found and "anna@" not in found
    assert "2 träffar" in text(staff_client.get("/staff/organisations?q=example.org"))
    assert "0 träffar" in text(staff_client.get("/staff/organisations?q=100%25"))
    page = text(staff_client.get("/staff/organisations/exempelforbundet"))
    assert "Anna Andersson anna@example.org Exempelforbundet (ordförande) får utskick" in page
    assert staff_client.get("/staff/organisations/nope").status_code == 404


def test_editing_a_contact(db, staff_client):
    _imported(staff_client)
    anna = _contact(db)
    form = {
        "name": " Anna  Andersson-Berg ",
        "language": "en",
        "region": "Gävleborg",
        "phone": "070-123 45 67",
        "role:exempelforbundet": "ledamot",
    }
    assert post(staff_client, f"/staff/contacts/{anna}", form).status_code == 303
    with db.transaction() as session:
        contact = session.get(Contact, anna)
        assert (contact.name, contact.language, contact.region, contact.phone) == (
            "Anna Andersson-Berg",
            "en",
            "Gävleborg",
            "070-123 45 67",
        )
        assert contact.memberships[0].role == "ledamot"
    too_long = post(staff_client, f"/staff/contacts/{anna}", {**form, "phone": "1" * 60})
    assert too_long.status_code == 422 and "Telefonnumret är för långt." in text(too_long)
    assert ("kansli@ax.example.org", "contacts.update", f"contact:{anna}") in audit(db)
    assert staff_client.get("/staff/contacts/99999").status_code == 404


def test_staff_unsubscribe_and_resubscribe_someone(db, staff_client):
    _imported(staff_client)
    anna = _contact(db)
    post(staff_client, f"/staff/contacts/{anna}/subscription", {"action": "unsubscribe"})
    with db.transaction() as session:
        assert suppression_of(session, "anna@example.org").reason is SuppressionReason.UNSUBSCRIBED
    assert "Personen har avslutat utskicken" in text(staff_client.get(f"/staff/contacts/{anna}"))
    assert "inga utskick" in text(staff_client.get("/staff/organisations/exempelforbundet"))
    post(staff_client, f"/staff/contacts/{anna}/subscription", {"action": "resubscribe"})
    with db.transaction() as session:
        assert suppression_of(session, "anna@example.org") is None
    actions = [action for _, action, _ in audit(db)]
    assert actions[-2:] == ["contacts.unsubscribe", "contacts.resubscribe"]


def test_suppress_and_lift_never_touch_an_erasure(db):
    with db.transaction() as session:
        first = suppress(session, "Anna@Example.org", SuppressionReason.BOUNCED, "550")
        assert suppress(session, "anna@example.org") is first  # kept as it was
        assert lift_suppression(session, "anna@example.org") is True
        assert lift_suppression(session, "anna@example.org") is False
        session.add(Suppression(address_hash=first.address_hash, reason=SuppressionReason.ERASED))
        session.flush()
        assert lift_suppression(session, "anna@example.org") is False
        try:
            suppress(session, "bo@example.org", SuppressionReason.ERASED)
        except ValueError as exc:
            assert "erasure" in str(exc)
        else:
            raise AssertionError("staff must not erase through suppress()")


def test_erasing_a_person_asks_first_then_erases_everywhere(db, staff_client):
    _imported(staff_client)
    anna = _contact(db)
    confirm = staff_client.get(f"/staff/contacts/{anna}/erase")
    assert "Radera Anna Andersson?" in text(confirm) and "Det går inte att ångra." in text(confirm)
    assert "Säkerhetskopior som redan tagits ändras inte" in text(confirm)  # they age out (backup_keep)
    assert _contact(db) == anna  # asking changed nothing
    reply = post(staff_client, f"/staff/contacts/{anna}/erase", follow_redirects=True)
    assert "Personen är raderad." in text(reply)
    assert _contact(db) is None
    with db.transaction() as session:
        assert session.get(Contact, anna) is None or session.get(Contact, anna).name is None
    assert (STAFF_EMAIL, "contacts.forget", f"contact:{anna}") in audit(db)
    # The same list again cannot bring her back.
    reply = upload(staff_client, LIST)
    assert "1 är raderade på egen begäran och hoppas över." in text(reply)
