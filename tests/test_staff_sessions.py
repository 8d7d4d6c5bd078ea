"""Sessions end on the server: a copy of the session cookie stops working at once after log-out,
a password change, or anything else that calls `accounts.end_sessions` (deactivation, role change)."""

from __future__ import annotations

from staff_helpers import PASSWORD, log_in, post

from mailer.staff import accounts
from mailer.staff.models import StaffUser


def _copy(app, client):
    """A second browser holding the same session cookie (a shared computer, a stolen cookie)."""
    cookie = client.get_cookie("session")
    other = app.test_client()
    other.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    assert other.get("/staff/").status_code == 200
    return other


def test_logging_out_ends_the_session_on_the_server(app, staff_client):
    stolen = _copy(app, staff_client)
    assert post(staff_client, "/staff/logout").status_code == 303
    assert stolen.get("/staff/").status_code == 302
    assert staff_client.get("/staff/").status_code == 302
    assert log_in(staff_client).status_code == 303  # logging in again works
    assert staff_client.get("/staff/").status_code == 200 and stolen.get("/staff/").status_code == 302


def test_end_sessions_ends_every_session_of_the_account_and_only_its(app, db, staff_client, staff):
    stolen = _copy(app, staff_client)
    with db.transaction() as session:
        other = accounts.add_staff(session, "annan@ax.example.org", "Annan", "ett annat långt lösenord")
    colleague = app.test_client()
    assert log_in(colleague, email="annan@ax.example.org", password="ett annat långt lösenord").status_code == 303
    with db.transaction() as session:
        first = session.get(StaffUser, staff)
        before = first.session_generation
        assert accounts.end_sessions(session, first) == before + 1
    assert staff_client.get("/staff/").status_code == 302 and stolen.get("/staff/").status_code == 302
    assert colleague.get("/staff/").status_code == 200
    with db.transaction() as session:
        assert session.get(StaffUser, other.id).session_generation == 0


def test_a_password_change_ends_the_old_sessions_but_not_the_new_one(app, db, staff_client, staff):
    stolen = _copy(app, staff_client)
    with db.transaction() as session:
        token = accounts.set_password_token(app.extensions["mailer.settings"].secret_key, session.get(StaffUser, staff))
    client = app.test_client()
    page = client.get(f"/staff/set-password/{token}")
    csrf = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    reply = client.post(
        f"/staff/set-password/{token}",
        data={"csrf_token": csrf, "password": PASSWORD + " nytt", "repeat": PASSWORD + " nytt"},
    )
    assert reply.status_code == 303
    assert client.get("/staff/").status_code == 200
    assert stolen.get("/staff/").status_code == 302 and staff_client.get("/staff/").status_code == 302
