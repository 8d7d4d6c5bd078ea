"""Roles: every staff route states the role it needs, and the server enforces it for each method."""

from __future__ import annotations

import pytest
from helpers import future_year
from sqlalchemy import func, select
from staff_helpers import client_as, csrf, log_in, post, staff_routes, text

from mailer.meetings.models import Meeting
from mailer.staff import accounts
from mailer.staff.models import StaffUser
from mailer.staff.roles import ADMIN, ROLES, STAFF, VIEWER, allows
from mailer.web.staff import OPEN_ENDPOINTS
from mailer.web.staff.access import declared_roles

YEAR = future_year()  # a year still ahead

# (read, write) per staff endpoint. A new page must be added here: the test below fails until it is.
EXPECTED = {
    "staff.auth.logout": (VIEWER, VIEWER),
    "staff.auth.language": (VIEWER, VIEWER),
    "staff.dashboard.index": (VIEWER, VIEWER),
    "staff.contacts.index": (VIEWER, VIEWER),
    "staff.contacts.organisation": (VIEWER, VIEWER),
    "staff.contacts.upload_form": (STAFF, STAFF),
    "staff.contacts.upload": (STAFF, STAFF),
    "staff.contacts.confirm_upload": (STAFF, STAFF),
    "staff.contacts.contact": (VIEWER, STAFF),
    "staff.contacts.subscription": (STAFF, STAFF),
    "staff.contacts.erase": (ADMIN, ADMIN),
    "staff.meetings.index": (VIEWER, VIEWER),
    "staff.meetings.new": (STAFF, STAFF),
    "staff.meetings.edit": (STAFF, STAFF),
    "staff.campaigns.index": (VIEWER, VIEWER),
    "staff.campaigns.count": (STAFF, STAFF),
    "staff.campaigns.new": (STAFF, STAFF),
    "staff.campaigns.show": (VIEWER, VIEWER),
    "staff.campaigns.progress": (VIEWER, VIEWER),
    "staff.campaigns.test": (STAFF, STAFF),
    "staff.campaigns.schedule": (STAFF, STAFF),
    "staff.campaigns.act": (STAFF, STAFF),
    "staff.responses.index": (VIEWER, VIEWER),
    "staff.responses.export": (VIEWER, VIEWER),
    "staff.responses.checkin": (STAFF, STAFF),
    "staff.responses.mark": (STAFF, STAFF),
    "staff.responses.add_walk_in": (STAFF, STAFF),
    "staff.templates.index": (VIEWER, VIEWER),
    "staff.templates.edit": (VIEWER, STAFF),
    "staff.templates.live_preview": (STAFF, STAFF),
    "staff.contacts.edit_organisation": (STAFF, STAFF),
    "staff.contacts.recheck_upload": (STAFF, STAFF),
    "staff.reports.board": (VIEWER, VIEWER),
    "staff.reports.board_download": (VIEWER, VIEWER),
    "staff.reports.quality": (VIEWER, VIEWER),
    "staff.reports.quality_download": (VIEWER, VIEWER),
    "staff.accounts.index": (ADMIN, ADMIN),
    "staff.accounts.invite": (ADMIN, ADMIN),
    "staff.accounts.role": (ADMIN, ADMIN),
    "staff.accounts.active": (ADMIN, ADMIN),
    "staff.accounts.link": (ADMIN, ADMIN),
    "staff.accounts.password": (VIEWER, VIEWER),
    "staff.audit.index": (ADMIN, ADMIN),
    "staff.campaigns.note": (STAFF, STAFF),
    "staff.meetings.cancel": (STAFF, STAFF),
    "staff.suppressions.index": (VIEWER, VIEWER),
    "staff.suppressions.lift_one": (STAFF, STAFF),
    "staff.suppressions.lift_wrong": (STAFF, STAFF),
    "staff.series.index": (VIEWER, VIEWER),
    "staff.series.show": (VIEWER, VIEWER),
    "staff.series.create": (STAFF, STAFF),
    "staff.series.add": (STAFF, STAFF),
    "staff.series.remove": (STAFF, STAFF),
    # Closing, reopening or timing a meeting's or series' public sign-up page.
    "staff.signup.meeting": (STAFF, STAFF),
    "staff.signup.series": (STAFF, STAFF),
    "staff.webhooks.index": (ADMIN, ADMIN),
    "staff.webhooks.add": (ADMIN, ADMIN),
    "staff.webhooks.disable": (ADMIN, ADMIN),
    "staff.webhooks.enable": (ADMIN, ADMIN),
    "staff.webhooks.remove": (ADMIN, ADMIN),
    "staff.webhooks.secret": (ADMIN, ADMIN),
    "staff.webhooks.resend": (ADMIN, ADMIN),
    # Everyone's own API tokens: a token never does more than its account's role allows.
    "staff.tokens.index": (VIEWER, VIEWER),
    "staff.tokens.create": (VIEWER, VIEWER),
    "staff.tokens.revoke": (VIEWER, VIEWER),
    # A meeting's or series' own questions: everyone reads them, staff change them.
    "staff.questions.index": (VIEWER, STAFF),
    "staff.questions.remove": (STAFF, STAFF),
    "staff.questions.move": (STAFF, STAFF),
}


def endpoint_of(app, method: str, path: str) -> str:
    adapter = app.url_map.bind("localhost")
    return adapter.match(path, method=method)[0]


def test_every_staff_route_states_its_role_and_it_is_the_expected_one(app):
    with app.test_request_context():
        declared = {
            rule.endpoint: declared_roles(rule.endpoint)
            for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith("staff.") and rule.endpoint not in OPEN_ENDPOINTS
        }
    assert all(declared.values()), [endpoint for endpoint, roles in declared.items() if not roles]
    assert {endpoint: (roles["read"], roles["write"]) for endpoint, roles in declared.items()} == EXPECTED


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_exactly_the_routes_above_it(app, db, staff, make_meeting, role):
    make_meeting(slug="falun")
    client = client_as(app, db, role)
    token = csrf(client)
    for method, path in staff_routes(app, {"GET", "POST"}):
        endpoint = endpoint_of(app, method, path)
        if endpoint == "staff.auth.logout":
            continue  # would end this client's session
        read, write = EXPECTED[endpoint]
        needed = read if method == "GET" else write
        reply = client.get(path) if method == "GET" else client.post(path, data={"csrf_token": token})
        if allows(role, needed):
            assert reply.status_code != 403, (role, method, path)
        else:
            assert reply.status_code == 403, (role, method, path, reply.status_code)
            assert "Det får du inte göra" in text(reply) and "Ingenting har ändrats" in text(reply)


def test_a_viewers_post_changes_nothing_and_gets_a_swedish_page(app, db, staff):
    client = client_as(app, db, VIEWER)
    reply = post(
        client,
        "/staff/meetings/new",
        {"title": "Träff i Falun", "region": "Dalarna", "city": "Falun", "date": f"{YEAR}-01-01", "start": "18:00"},
    )
    assert reply.status_code == 403
    assert "rollen läsare" in text(reply)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Meeting)) == 0


def test_a_viewer_sees_the_dashboard_and_no_forms_to_change_things(app, db, staff):
    client = client_as(app, db, VIEWER)
    page = client.get("/staff/")
    assert page.status_code == 200 and "Översikt" in text(page)


def test_existing_accounts_are_admins_and_a_new_first_account_is_admin(db, staff):
    with db.transaction() as session:
        assert session.get(StaffUser, staff).role == ADMIN
        assert accounts.add_staff(session, "ny@ax.example.org").role == STAFF


def test_the_last_active_admin_cannot_lose_the_role(db, staff):
    with db.transaction() as session:
        user = session.get(StaffUser, staff)
        with pytest.raises(accounts.StaffError) as refused:
            accounts.set_role(session, user, VIEWER)
        assert refused.value.code == "last_admin"
        with pytest.raises(accounts.StaffError):
            accounts.set_active(session, user, False)


def test_an_unknown_role_is_named(db):
    with db.transaction() as session, pytest.raises(ValueError) as refused:
        accounts.add_staff(session, "x@ax.example.org", role="boss")
    assert "'boss'" in str(refused.value) and "admin, staff, viewer" in str(refused.value)


def test_a_deactivated_account_is_logged_out_at_once_and_cannot_log_in(app, db, staff):
    client = client_as(app, db, STAFF, "karl@ax.example.org")
    assert client.get("/staff/").status_code == 200
    with db.transaction() as session:
        accounts.set_active(session, accounts.find_staff(session, "karl@ax.example.org"), False)
    assert client.get("/staff/").status_code == 302
    assert log_in(app.test_client(), email="karl@ax.example.org").status_code == 401


def test_a_new_role_ends_the_accounts_sessions_and_applies_from_the_next_log_in(app, db, staff):
    client = client_as(app, db, STAFF, "karl@ax.example.org")
    assert client.get("/staff/meetings/new").status_code == 200
    with db.transaction() as session:
        accounts.set_role(session, accounts.find_staff(session, "karl@ax.example.org"), VIEWER)
    assert client.get("/staff/meetings/new").status_code == 302  # end_sessions: logged out at once
    assert log_in(client, email="karl@ax.example.org").status_code == 303
    assert client.get("/staff/meetings/new").status_code == 403
