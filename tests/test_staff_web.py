"""The staff web app's gate: log-in on every staff page (never on recipients' pages), CSRF on
every form, session cookies, slowed-down failures, headers, language."""

from __future__ import annotations

import datetime as dt

import time_machine
from rsvp_fixtures import links_for
from staff_helpers import PASSWORD, STAFF_EMAIL, csrf, log_in, post, staff_routes, text

from mailer.staff import accounts
from mailer.staff.models import StaffUser


def test_the_route_walk_sees_the_whole_staff_app(app):
    routes = staff_routes(app, {"GET", "POST"})
    assert ("GET", "/staff/contacts/1/erase") in routes and ("POST", "/staff/campaigns/1/cancel") in routes
    assert len(routes) >= 35


def test_every_staff_page_requires_a_login(app):
    client = app.test_client()
    for _method, path in staff_routes(app, {"GET"}):
        reply = client.get(path)
        assert reply.status_code == 302, path
        assert reply.headers["Location"].startswith("/staff/login?next="), path


def test_every_staff_form_without_a_login_is_refused_before_anything_happens(app):
    client = app.test_client()
    token = csrf(client, "/staff/login")
    for _method, path in staff_routes(app, {"POST"}):
        reply = client.post(path, data={"csrf_token": token})
        assert reply.status_code == 302 and "/staff/login" in reply.headers["Location"], path


def test_every_staff_form_refuses_a_post_without_its_csrf_token(app, staff_client, make_meeting):
    make_meeting(slug="falun")
    for _method, path in staff_routes(app, {"POST"}):
        reply = staff_client.post(path, data={"email": "x@example.org", "answer": "yes"})
        assert reply.status_code == 400, path
        assert "Formuläret hade gått ut" in text(reply), path


def test_recipients_pages_never_ask_for_a_login(app, person, make_meeting):
    links = links_for(app, person("anna@example.org"), make_meeting().id)
    client = app.test_client()
    for key in ("rsvp_url", "unsubscribe_url", "evaluation_url"):
        reply = client.get(links[key])
        assert "/staff/login" not in reply.headers.get("Location", "")
        assert reply.status_code in (200, 403), (key, reply.status_code)


def test_login_goes_back_to_the_page_asked_for_and_never_off_site(app, staff):
    client = app.test_client()
    reply = log_in(client, next="/staff/campaigns")
    assert reply.status_code == 303 and reply.headers["Location"] == "/staff/campaigns"
    for target in ("https://evil.example/staff/", "//evil.example/staff/", "/r/x", "/staff\\..\\x"):
        client = app.test_client()
        assert log_in(client, next=target).headers["Location"] == "/staff/"


def test_the_session_cookie_is_signed_httponly_and_samesite(app, staff):
    client = app.test_client()
    reply = log_in(client)
    cookie = reply.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie  # plain http in the tests; https base URLs get Secure (below)
    assert STAFF_EMAIL not in cookie


def test_secure_cookies_behind_https(test_config, staff):
    from mailer.app import create_app

    app = create_app({**test_config, "base_url": "https://mailer.ax.example.org"})
    client = app.test_client()
    assert "Secure" in log_in(client).headers["Set-Cookie"]
    app.extensions["mailer.db"].dispose()


def test_wrong_passwords_say_nothing_about_which_and_are_slowed_down(app, staff):
    client = app.test_client()
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=False):  # the wait is counted on a still clock
        for _ in range(3):
            reply = log_in(client, password="fel lösenord")
            assert reply.status_code == 401 and "Fel e-postadress eller lösenord." in text(reply)
        unknown = log_in(app.test_client(), email="nobody@ax.example.org", password="fel lösenord")
        assert unknown.status_code == 401 and "Fel e-postadress eller lösenord." in text(unknown)
        refused = log_in(client)  # the right password, too soon after the failures
    assert refused.status_code == 429 and "Vänta 2 sekunder" in text(refused)
    assert refused.headers["Retry-After"] == "2"  # what a script reads
    assert "/staff/" not in refused.headers.get("Location", "")


def test_every_staff_form_needs_a_csrf_token(staff_client):
    for path in ("/staff/meetings/new", "/staff/campaigns/new", "/staff/logout", "/staff/language"):
        reply = staff_client.post(path, data={"title": "x"})
        assert reply.status_code == 400 and "Formuläret hade gått ut" in text(reply)


def test_removing_an_account_or_changing_its_password_ends_its_sessions(app, db, staff_client, staff):
    assert staff_client.get("/staff/").status_code == 200
    with db.transaction() as session:
        accounts.set_password(session, session.get(StaffUser, staff), "ett annat långt lösenord")
    assert staff_client.get("/staff/").status_code == 302
    client = app.test_client()
    assert log_in(client, password="ett annat långt lösenord").status_code == 303
    with db.transaction() as session:
        accounts.remove_staff(session, STAFF_EMAIL)
    assert client.get("/staff/").status_code == 302


def test_logging_out(staff_client):
    reply = post(staff_client, "/staff/logout", follow_redirects=True)
    assert "Du är utloggad." in text(reply)
    assert staff_client.get("/staff/").status_code == 302


def test_set_password_page(app, db):
    with db.transaction() as session:
        user = accounts.add_staff(session, "ny@ax.example.org", "Ny")
        token = accounts.set_password_token(app.config["SECRET_KEY"], user)
    client = app.test_client()
    path = f"/staff/set-password/{token}"
    assert "ny@ax.example.org" in text(client.get(path))
    token_ = csrf(client, path)
    short = client.post(path, data={"csrf_token": token_, "password": "kort", "repeat": "kort"})
    assert short.status_code == 422 and "minst 10 tecken" in text(short)
    differ = client.post(path, data={"csrf_token": token_, "password": PASSWORD, "repeat": PASSWORD + "x"})
    assert differ.status_code == 422 and "inte lika" in text(differ)
    done = client.post(path, data={"csrf_token": token_, "password": PASSWORD, "repeat": PASSWORD})
    assert done.status_code == 303 and done.headers["Location"] == "/staff/"
    assert client.get("/staff/").status_code == 200  # logged in
    assert client.get(path).status_code == 404  # used
    assert app.test_client().get("/staff/set-password/garbage").status_code == 404


def test_staff_pages_get_strict_headers(staff_client):
    reply = staff_client.get("/staff/")
    policy = reply.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "'unsafe-eval'" not in policy
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"


def test_login_posts_are_rate_limited_per_address(app, staff):
    client = app.test_client()
    codes = [log_in(client, email=f"x{i}@ax.example.org", password="fel").status_code for i in range(21)]
    assert codes[:20] == [401] * 20 and codes[20] == 429


def test_swedish_by_default_english_by_choice(db, staff_client, staff):
    assert "Översikt" in text(staff_client.get("/staff/"))
    reply = post(staff_client, "/staff/language", {"language": "en", "next": "/staff/meetings"})
    assert reply.headers["Location"] == "/staff/meetings"
    page = staff_client.get("/staff/meetings")
    assert 'lang="en"' in page.get_data(as_text=True) and "Meetings" in text(page)
    with db.transaction() as session:
        assert session.get(StaffUser, staff).language == "en"  # follows the person to another device


def test_the_root_leads_to_the_staff_pages(app):
    assert app.test_client().get("/").headers["Location"] == "/staff/"


def test_static_files_need_no_login(app):
    reply = app.test_client().get("/staff/static/staff.js")
    assert reply.status_code == 200 and b"data-count-url" in reply.data
    reply.close()
