"""Who manages API tokens on the staff web: everyone their own, an admin every account's; and the
account behind a token governs it at every request (deactivated: 401, a new role: applies at once)."""

from __future__ import annotations

from sqlalchemy import select
from staff_helpers import STAFF_EMAIL, client_as, post, text

from mailer.audit.models import AuditEntry
from mailer.staff import accounts
from mailer.staff.models import ApiToken

KARIN = "karin@ax.example.org"


def token_id_of(db, email: str) -> int:
    with db.reading() as session:
        user = accounts.find_staff(session, email)
        return session.scalars(select(ApiToken.id).where(ApiToken.staff_user_id == user.id)).one()


def account_id(db, email: str) -> int:
    with db.reading() as session:
        return accounts.find_staff(session, email).id


def test_an_admin_sees_and_revokes_every_account_s_tokens_others_only_their_own(app, db, staff_client, api, api_token):
    admin_token = api_token(role="admin", email=STAFF_EMAIL)
    karin_token = api_token(role="staff", email=KARIN)
    karin = client_as(app, db, "staff", email="karin2@ax.example.org")  # a second staff member, no tokens
    api_token(role="staff", email="karin2@ax.example.org")

    every = text(staff_client.get("/staff/tokens"))
    assert KARIN in every and STAFF_EMAIL in every and "karin2@ax.example.org" in every
    assert "Alla kontons nycklar (3)" in every
    own = text(karin.get("/staff/tokens"))
    assert KARIN not in own and STAFF_EMAIL not in own and "Dina nycklar (1)" in own

    # Not an admin: another account's token is "not found", and keeps working.
    refused = post(karin, f"/staff/tokens/{token_id_of(db, STAFF_EMAIL)}/revoke", follow_redirects=True)
    assert "Det gick inte: Kontot har ingen nyckel med id" in text(refused)
    assert api.get("/meetings", token=admin_token).status_code == 200

    # The admin revokes Karin's token: it stops at once, and the audit log names both.
    assert post(staff_client, f"/staff/tokens/{token_id_of(db, KARIN)}/revoke").status_code == 303
    reply = api.get("/meetings", token=karin_token)
    assert reply.status_code == 401 and reply.get_json()["error"]["code"] == "unauthorized"
    with db.reading() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "tokens.revoke")).one()
    assert (entry.actor, entry.target) == (STAFF_EMAIL, f"staff:{account_id(db, KARIN)}")
    assert entry.detail == {"token": token_id_of(db, KARIN)}
    assert "Återkallad" in text(staff_client.get("/staff/tokens"))


def test_deactivating_an_account_or_changing_its_role_governs_its_tokens_at_once(
    app, db, staff_client, api, api_token, make_meeting
):
    make_meeting(slug="m")
    token = api_token(role="staff", email=KARIN)
    karin = account_id(db, KARIN)
    assert api.patch("/meetings/m", token=token, json={"title": "Ny titel"}).status_code == 200

    assert post(staff_client, f"/staff/accounts/{karin}/active", {"active": "0"}).status_code == 303
    reply = api.get("/meetings", token=token)
    assert reply.status_code == 401 and reply.get_json()["error"]["code"] == "unauthorized"
    assert "Kontot avaktiverat" in text(staff_client.get("/staff/tokens"))  # the admin sees why
    assert post(staff_client, f"/staff/accounts/{karin}/active", {"active": "1"}).status_code == 303
    assert api.get("/meetings", token=token).status_code == 200  # not revoked: back with the account

    assert post(staff_client, f"/staff/accounts/{karin}/role", {"role": "viewer"}).status_code == 303
    refused = api.patch("/meetings/m", token=token, json={"title": "Igen"})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "role"
    assert api.get("/meetings/m", token=token).status_code == 200  # a viewer still reads
    assert post(staff_client, f"/staff/accounts/{karin}/role", {"role": "admin"}).status_code == 303
    contact = api.post("/contacts", token=token, json={"email": "anna@example.org"}).get_json()
    assert api.get(f"/contacts/{contact['id']}/export", token=token).status_code == 200  # admins export
