"""The pages that replace the CLI for staff: accounts, own password, board report, quality reports,
the audit log and organisations."""

from __future__ import annotations

import datetime as dt
import email
import re

from helpers import future_year, past_year
from sqlalchemy import select
from staff_helpers import PASSWORD, STAFF_EMAIL, client_as, csrf, log_in, post, text

from mailer.audit.models import AuditEntry
from mailer.contacts.importer import import_lists
from mailer.contacts.models import SuppressionReason
from mailer.contacts.subscriptions import suppress
from mailer.staff import accounts
from mailer.staff.models import StaffUser

YEAR, LAST_YEAR = future_year(), past_year()  # dates from today, never a fixed year

NEW_PASSWORD = "ett annat långt lösenord"


def outbox_messages(app) -> list[email.message.Message]:
    folder = app.extensions["mailer.settings"].outbox_path
    return (
        [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(folder.glob("*.eml"))
        ]
        if folder.exists()
        else []
    )


def actions(db) -> list[str]:
    with db.transaction() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_an_admin_invites_a_colleague_who_sets_a_password_and_logs_in(app, db, staff_client):
    reply = post(
        staff_client,
        "/staff/accounts/invite",
        {"email": "Ny.Kollega@ax.example.org", "name": "Nils Ny", "role": "viewer", "language": "sv"},
    )
    assert reply.status_code == 303
    page = staff_client.get("/staff/accounts")
    assert "Inbjudan är skickad till ny.kollega@ax.example.org." in text(page)
    assert "väntar på lösenord" in text(page)
    [message] = outbox_messages(app)
    assert message["To"] == "ny.kollega@ax.example.org" and message["Subject"].startswith("Välj lösenord")
    link = re.search(r"http://\S+/staff/set-password/\S+", message.get_content()).group(0)
    colleague = app.test_client()
    path = link.split("mailer.test", 1)[-1] if "mailer.test" in link else "/" + link.split("/", 3)[3]
    form = colleague.get(path)
    assert form.status_code == 200 and "ny.kollega@ax.example.org" in text(form)
    done = colleague.post(
        path, data={"csrf_token": csrf(colleague, path), "password": NEW_PASSWORD, "repeat": NEW_PASSWORD}
    )
    assert done.status_code == 303
    assert "(läsare)" in text(colleague.get("/staff/"))
    assert colleague.get("/staff/accounts").status_code == 403
    assert (
        actions(db)[-3:] == ["staff.invite", "staff.password_set", "staff.login"]
        or "staff.invite" in actions(db)
        and "staff.password_set" in actions(db)
    )


def test_an_invitation_names_an_unknown_role_and_keeps_the_input(staff_client):
    reply = post(staff_client, "/staff/accounts/invite", {"email": "ny@ax.example.org", "name": "Nils", "role": "chef"})
    assert reply.status_code == 422
    assert "Okänd roll 'chef' (välj en av admin, staff, viewer)." in text(reply)
    assert 'value="ny@ax.example.org"' in reply.get_data(as_text=True)
    taken = post(staff_client, "/staff/accounts/invite", {"email": STAFF_EMAIL, "role": "staff"})
    assert taken.status_code == 422 and f"Det finns redan ett konto för {STAFF_EMAIL}." in text(taken)


def test_an_admin_changes_a_role_deactivates_and_resends_a_link(app, db, staff_client):
    colleague = client_as(app, db, "staff", "karl@ax.example.org")
    with db.transaction() as session:
        karl = accounts.find_staff(session, "karl@ax.example.org").id
    assert post(staff_client, f"/staff/accounts/{karl}/role", {"role": "viewer"}).status_code == 303
    assert "karl@ax.example.org har nu rollen läsare." in text(staff_client.get("/staff/accounts"))
    assert colleague.get("/staff/meetings/new").status_code == 302  # the role change ended his sessions
    assert log_in(colleague, email="karl@ax.example.org").status_code == 303
    assert colleague.get("/staff/meetings/new").status_code == 403
    assert post(staff_client, f"/staff/accounts/{karl}/link").status_code == 303
    assert outbox_messages(app)[-1]["To"] == "karl@ax.example.org"
    assert post(staff_client, f"/staff/accounts/{karl}/active", {"active": "0"}).status_code == 303
    assert colleague.get("/staff/").status_code == 302  # logged out at the next click
    with db.transaction() as session:
        me_id = accounts.find_staff(session, STAFF_EMAIL).id
    post(staff_client, f"/staff/accounts/{me_id}/active", {"active": "0"})
    assert "Du kan inte stänga av ditt eget konto" in text(staff_client.get("/staff/accounts"))
    assert ["staff.role", "staff.link", "staff.deactivate"] == [
        a for a in actions(db) if a in ("staff.role", "staff.link", "staff.deactivate")
    ]


def test_everyone_changes_their_own_password(app, db, staff):
    viewer = client_as(app, db, "viewer")
    wrong = post(viewer, "/staff/password", {"current": "fel", "password": NEW_PASSWORD, "repeat": NEW_PASSWORD})
    assert wrong.status_code == 422 and "Det nuvarande lösenordet stämmer inte." in text(wrong)
    short = post(viewer, "/staff/password", {"current": PASSWORD, "password": "kort", "repeat": "kort"})
    assert short.status_code == 422 and "minst 10 tecken" in text(short)
    done = post(viewer, "/staff/password", {"current": PASSWORD, "password": NEW_PASSWORD, "repeat": NEW_PASSWORD})
    assert done.status_code == 303 and viewer.get("/staff/").status_code == 200  # still logged in
    assert log_in(app.test_client(), email="viewer@ax.example.org").status_code == 401
    assert log_in(app.test_client(), email="viewer@ax.example.org", password=NEW_PASSWORD).status_code == 303


def test_the_board_report_page_prints_downloads_and_speaks_english(app, db, staff_client, make_meeting, settings):
    today = dt.datetime.now(settings.timezone).date()
    make_meeting(
        slug="falun", city="Falun", region="Dalarna", starts=f"{(today - dt.timedelta(days=3)).isoformat()} 18:00"
    )
    page = staff_client.get(f"/staff/reports/board?from={today.replace(month=1, day=1) - dt.timedelta(days=400)}")
    assert page.status_code == 200
    assert "Styrelserapport" in text(page) and "Falun" in text(page) and 'class="bar"' in page.get_data(as_text=True)
    english = staff_client.get("/staff/reports/board?lang=en")
    assert "Board report" in text(english) and "Member organisations represented" in text(english)
    download = staff_client.get(f"/staff/reports/board.csv?from={LAST_YEAR}-01-01")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.data.decode("utf-8-sig").startswith("Träff;Region;Datum")
    bad = staff_client.get(f"/staff/reports/board?from={LAST_YEAR}-13-01")
    assert bad.status_code == 422 and "Välj datum som finns" in text(bad)
    assert "reports.board_download" in actions(db)


def test_an_organisations_quality_report_lists_what_to_fix_and_downloads(app, db, staff_client, make_csv):
    path = make_csv(
        "korforbundet.csv", "email,name\nanna@kor.example.org,Anna\nbo@kor.example.org,Bo\ninte-en-adress,Cilla\n"
    )
    with db.transaction() as session:
        import_lists(session, [path])
        suppress(session, "bo@kor.example.org", SuppressionReason.UNSUBSCRIBED)
    page = staff_client.get("/staff/organisations/korforbundet/quality")
    assert page.status_code == 200
    assert "Avslutade utskick (1)" in text(page) and "bo@kor.example.org" in text(page)
    assert "Rader som inte kunde importeras (1)" in text(page) and "inte-en-adress" in text(page)
    download = staff_client.get("/staff/organisations/korforbundet/quality.csv")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == 'attachment; filename="korforbundet-adresser-att-ratta.csv"'

    rows = download.data.decode("utf-8-sig").splitlines()
    assert rows[0] == "Problem;E-post;Sedan;Detaljer"
    assert any(row.startswith("avslutat utskick;bo@kor.example.org;") for row in rows)
    assert any(row.startswith("ogiltig rad i listan;inte-en-adress;") for row in rows)
    assert staff_client.get("/staff/organisations/nowhere/quality").status_code == 404
    assert "reports.quality_download" in actions(db)


def test_the_audit_log_shows_every_kind_of_staff_action_with_filters(app, db, staff_client, make_meeting):
    log_in(app.test_client(), password="fel lösenord")
    meeting = make_meeting(slug="falun")
    post(
        staff_client,
        "/staff/meetings/falun/edit",
        {
            "title": "Ny rubrik",
            "region": meeting.region,
            "city": meeting.city,
            "date": f"{YEAR}-05-06",
            "start": "18:00",
            "end": "20:00",
            "max_guests": "1",
        },
    )
    post(staff_client, "/staff/meetings/falun/walk-in", {"name": "Gäst Gästsson"})
    page = staff_client.get("/staff/audit")
    assert page.status_code == 200
    for words in ("loggade in", "misslyckad inloggning", "ändrade träff", "lade till person utan anmälan"):
        assert words in text(page), words
    only_meetings = staff_client.get("/staff/audit?what=meetings.")
    assert "2 händelser" in text(only_meetings)
    assert "kansli@ax.example.org ändrade träff meeting:falun" in text(only_meetings)
    nobody = staff_client.get("/staff/audit?who=nobody@ax.example.org")
    assert "Inga händelser." in text(nobody)
    future = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    assert "Inga händelser." in text(staff_client.get(f"/staff/audit?from={future}"))
    with db.transaction() as session:
        assert session.scalar(select(StaffUser).where(StaffUser.email == STAFF_EMAIL)).role == "admin"


def test_the_uploaded_files_own_name_keeps_swedish_letters(staff_client):
    reply = post(
        staff_client,
        "/staff/upload",
        {
            "org": "",
            "new_org": "korforbundet",
            "file": (__import__("io").BytesIO(b"email\nanna@kor.example.org\n"), "Körförbundet Ålö.csv"),
        },
        content_type="multipart/form-data",
    )
    assert reply.status_code == 200 and "Körförbundet Ålö.csv" in text(reply)


def test_a_stale_token_after_a_long_form_gives_the_input_back_to_send_again(app, db, staff_client):
    form = {
        "title": "Träff i Falun",
        "region": "Dalarna",
        "city": "Falun",
        "date": f"{YEAR}-09-13",
        "start": "18:00",
        "end": "20:00",
        "max_guests": "1",
        "description": "Lång text … <b>",
    }
    stale = staff_client.post("/staff/meetings/new", data={"csrf_token": "gammal", **form})
    assert stale.status_code == 400 and "Det du skrev finns kvar" in text(stale)
    html = stale.get_data(as_text=True)
    assert 'name="title" value="Träff i Falun"' in html and "Lång text … &lt;b&gt;" in html
    kept = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    again = staff_client.post("/staff/meetings/new", data=kept)
    assert again.status_code == 303
    assert "Träff i Falun" in text(staff_client.get("/staff/meetings"))


def test_a_stale_password_form_never_echoes_the_password(staff_client):
    stale = staff_client.post(
        "/staff/password",
        data={"csrf_token": "gammal", "current": "hemligt-ord", "password": "hemligt-nytt", "repeat": "hemligt-nytt"},
    )
    assert stale.status_code == 400 and "hemligt" not in stale.get_data(as_text=True)
