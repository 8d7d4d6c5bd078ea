"""The JSON API (/api/v1): tokens, errors, paging and each resource; every reply is checked against
the OpenAPI document (tests/api_helpers.py), and a whole round is driven with a token."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re

from helpers import future, future_year
from rsvp_fixtures import answer
from sqlalchemy import select
from staff_helpers import post, text

from mailer.api.schemas import OPERATIONS
from mailer.app import create_app
from mailer.attendance.checkin import check_in
from mailer.contacts.models import Contact
from mailer.meetings.models import Meeting, Series
from mailer.staff import accounts
from mailer.staff.models import ApiToken

RSVP_LINK = re.compile(r"https?://\S+?/r/[A-Za-z0-9_.\-]+")
LIST = "email,name,region\nanna@kor.example.org,Anna Andersson,Sörmland\nbo@kor.example.org,Bo Berg,Sörmland\n"


def meeting_body(slug: str = "eskilstuna", **fields) -> dict:
    return {
        "slug": slug,
        "title": "Dialogträff Sörmland",
        "region": "Sörmland",
        "city": "Eskilstuna",
        "starts": f"{future_year()}-05-06 18:00",
        **fields,
    }


def import_list(api, token: str, organisation: str, csv: str) -> dict:
    """Upload a list and import it, as staff do on the web (preview, then apply)."""
    preview = api.post("/imports", token=token, json={"organisation": organisation, "csv": csv}).get_json()
    applied = api.post(f"/imports/{preview['id']}/apply", token=token, json={})
    assert applied.status_code == 200, applied.get_json()
    return applied.get_json()["report"]


def error_of(reply) -> dict:
    return reply.get_json()["error"]


# -- tokens and who may do what -----------------------------------------------------------------


def test_the_openapi_document_is_served_without_a_token(api):
    document = api.client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0" and "/contacts/{id}/erase" in document["paths"]


def test_every_route_is_documented_with_the_role_it_checks(app):
    """The OpenAPI document's operations are exactly the app's API routes, and say the role each one needs."""

    def shape(path: str) -> str:
        return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)

    routes = {
        (method.lower(), shape(rule.rule.removeprefix("/api/v1")), app.view_functions[rule.endpoint].api_role)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi_document"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == {(method, shape(path), role) for method, path, _, role, *_ in OPERATIONS}


def test_no_token_a_wrong_one_or_a_revoked_one_gets_401_json(api, api_token, db):
    assert error_of(api.get("/meetings"))["code"] == "unauthorized"
    reply = api.get("/meetings", token="mailer_not-a-real-token")
    assert reply.status_code == 401 and reply.headers["WWW-Authenticate"].startswith("Bearer")
    token = api_token()
    assert api.get("/meetings", token=token).status_code == 200
    with db.transaction() as session:
        row = session.scalar(select(ApiToken))
        assert row.token_hash != token and token not in row.token_hash  # only the hash is kept
        row.revoked_at = dt.datetime.now(dt.UTC)
    assert api.get("/meetings", token=token).status_code == 401


def test_a_deactivated_account_s_token_stops_working(api, api_token, db):
    api_token(role="admin")  # someone else stays admin
    token = api_token(role="staff", email="karin@ax.example.org")
    assert api.get("/organisations", token=token).status_code == 200
    with db.transaction() as session:
        accounts.set_active(session, accounts.find_staff(session, "karin@ax.example.org"), False)
    assert api.get("/organisations", token=token).status_code == 401


def test_removing_an_account_removes_its_tokens_and_use_is_noted(api, api_token, db):
    token = api_token(role="staff", email="karin@ax.example.org")
    assert api.get("/meetings", token=token).status_code == 200
    with db.transaction() as session:
        assert session.scalar(select(ApiToken.last_used_at)) is not None  # shown on the staff page
        accounts.remove_staff(session, "karin@ax.example.org")
    with db.transaction() as session:
        assert session.scalar(select(ApiToken)) is None
    assert api.get("/meetings", token=token).status_code == 401


def test_a_staff_session_cookie_does_not_authenticate_the_api(api, app, staff_client):
    """The browser of a logged-in person cannot be made to call the API (and so no CSRF is needed)."""
    reply = staff_client.post("/api/v1/organisations", json={"slug": "x", "name": "X"})
    assert reply.status_code == 401 and reply.get_json()["error"]["code"] == "unauthorized"
    assert staff_client.get("/api/v1/organisations").status_code == 401


def test_a_read_token_cannot_write_and_roles_apply_as_on_the_web(api, api_token, make_meeting):
    make_meeting(slug="m")
    read = api_token(role="admin", scope="read")
    assert api.get("/meetings", token=read).status_code == 200
    refused = api.post("/organisations", token=read, json={"slug": "x", "name": "X"})
    assert refused.status_code == 403 and error_of(refused)["code"] == "read_only_token"
    viewer = api_token(role="viewer", scope="write")
    assert api.get("/meetings/m", token=viewer).status_code == 200
    refused = api.patch("/meetings/m", token=viewer, json={"title": "Nytt"})
    assert refused.status_code == 403 and error_of(refused)["code"] == "role"
    staff = api_token(role="staff")
    created = api.post("/contacts", token=staff, json={"email": "anna@example.org"}).get_json()
    assert api.post(f"/contacts/{created['id']}/erase", token=staff).status_code == 403  # admins erase
    assert api.get(f"/contacts/{created['id']}/export", token=staff).status_code == 403


# -- bad input ------------------------------------------------------------------------------------


def test_malformed_json_unknown_fields_and_wrong_types_are_400_naming_the_field(api, api_token):
    token = api_token()
    reply = api.post("/organisations", token=token, data="{bad", content_type="application/json")
    assert reply.status_code == 400 and error_of(reply) | {"message": ""} == {
        "code": "malformed_json",
        "field": "body",
        "message": "",
    }
    reply = api.post("/organisations", token=token, json={"slug": "x", "name": "X", "colour": "red"})
    assert (reply.status_code, error_of(reply)["code"], error_of(reply)["field"]) == (400, "unknown_field", "colour")
    reply = api.post("/organisations", token=token, json={"slug": "x", "name": 3})
    assert (reply.status_code, error_of(reply)["code"], error_of(reply)["field"]) == (400, "wrong_type", "name")
    reply = api.post("/contacts", token=token, json={"email": "a@example.org", "memberships": [{"role": "x"}]})
    assert error_of(reply)["field"] == "memberships[0].organisation" and error_of(reply)["code"] == "required"
    reply = api.post("/meetings", token=token, json=meeting_body(capacity="20"))
    assert error_of(reply)["field"] == "capacity"
    assert api.post("/organisations", token=token, json=["a list"]).status_code == 400


def test_error_messages_follow_accept_language_swedish_by_default(api, api_token):
    token = api_token()
    swedish = error_of(api.post("/organisations", token=token, json={"slug": "x"}))
    english = error_of(
        api.post("/organisations", token=token, json={"slug": "x"}, headers={"Accept-Language": "en-GB,en;q=0.9"})
    )
    assert swedish["message"] == "Fältet 'name' saknas." and english["message"] == "The field 'name' is missing."


def test_a_missing_thing_is_named_in_the_caller_s_language(api, api_token):
    token = api_token()
    assert error_of(api.get("/meetings/nope", token=token))["message"] == "Hittade ingen träff 'nope'."
    assert error_of(api.get("/campaigns/999", token=token))["message"] == "Hittade inget utskick '999'."
    english = api.get("/series/nope", token=token, headers={"Accept-Language": "en"})
    assert (english.status_code, error_of(english)["code"], error_of(english)["message"]) == (
        404,
        "not_found",
        "No series 'nope'.",
    )


def test_refused_values_name_the_field_in_the_domain_s_words(api, api_token):
    token = api_token()
    reply = api.post("/meetings", token=token, json=meeting_body(region="Atlantis"), headers={"Accept-Language": "en"})
    assert (
        reply.status_code == 422 and error_of(reply)["field"] == "region" and "Atlantis" in error_of(reply)["message"]
    )
    api.post("/organisations", token=token, json={"slug": "skf", "name": "SKF"})
    taken = api.post("/organisations", token=token, json={"slug": "skf", "name": "SKF"})
    assert taken.status_code == 409 and error_of(taken)["field"] == "slug"
    blank = api.patch("/organisations/skf", token=token, json={"name": " "})
    assert blank.status_code == 422 and error_of(blank)["field"] == "name"
    assert api.get("/organisations/nope", token=token).status_code == 404
    assert api.get("/no-such-thing", token=token, undocumented=True).status_code == 404
    assert api.request("DELETE", "/organisations", token=token, undocumented=True).status_code == 405


# -- paging ---------------------------------------------------------------------------------------


def test_cursor_paging_walks_every_item_once(api, api_token):
    token = api_token()
    for n in range(5):
        api.post("/organisations", token=token, json={"slug": f"org-{n}", "name": f"Förbund {n}"})
    seen, cursor = [], None
    while True:
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = api.get("/organisations", token=token, query_string=query).get_json()
        assert len(page["items"]) <= 2
        seen += [o["slug"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"org-{n}" for n in range(5)]
    assert error_of(api.get("/organisations", token=token, query_string={"cursor": "!!"}))["field"] == "cursor"
    assert error_of(api.get("/organisations", token=token, query_string={"limit": "0"}))["field"] == "limit"
    typo = api.get("/contacts", token=token, query_string={"organisaton": "org-1"})  # never silently ignored
    assert typo.status_code == 400 and error_of(typo) | {"message": ""} == {
        "code": "unknown_field",
        "field": "organisaton",
        "message": "",
    }


# -- resources ------------------------------------------------------------------------------------


def test_contacts_and_memberships_create_correct_list_export_and_erase(api, api_token, db):
    token, admin = api_token(), api_token(role="admin")
    for slug in ("kor", "teater"):
        api.post("/organisations", token=token, json={"slug": slug, "name": slug.title()})
    made = api.post(
        "/contacts",
        token=token,
        json={
            "email": "Anna@Example.org",
            "name": "Anna",
            "language": "sv",
            "memberships": [{"organisation": "kor", "role": "ordförande"}],
        },
    )
    assert made.status_code == 201
    anna = made.get_json()
    assert anna["email"] == "anna@example.org" and anna["memberships"][0]["role"] == "ordförande"
    assert (
        api.patch(f"/contacts/{anna['id']}", token=token, json={"phone": "070-123 45 67"}).get_json()["name"] == "Anna"
    )
    added = api.put(f"/contacts/{anna['id']}/memberships/teater", token=token, json={"role": "kassör"})
    assert added.status_code == 201
    again = api.put(f"/contacts/{anna['id']}/memberships/teater", token=token, json={"role": "sekreterare"})
    assert again.status_code == 200
    assert [(m["organisation"], m["role"]) for m in again.get_json()["memberships"]] == [
        ("kor", "ordförande"),
        ("teater", "sekreterare"),
    ]
    api.post("/contacts", token=token, json={"email": "bo@example.org", "memberships": [{"organisation": "teater"}]})
    on_kor = api.get("/contacts", token=token, query_string={"organisation": "kor"}).get_json()["items"]
    assert [c["email"] for c in on_kor] == ["anna@example.org"]
    assert api.get("/organisations/teater", token=token).get_json()["contacts"] == 2
    assert api.post("/contacts", token=token, json={"email": "anna@example.org"}).status_code == 409

    export = api.get(f"/contacts/{anna['id']}/export", token=admin).get_json()
    assert export["contact"]["phone"] == "070-123 45 67" and len(export["memberships"]) == 2
    assert api.post(f"/contacts/{anna['id']}/erase", token=admin).get_json() == {"id": anna["id"], "erased": True}
    with db.transaction() as session:
        assert session.scalar(select(Contact).where(Contact.email == "anna@example.org")) is None
    assert [c["email"] for c in api.get("/contacts", token=token).get_json()["items"]] == ["bo@example.org"]
    refused = api.post("/contacts", token=token, json={"email": "anna@example.org"})  # erased: never stored again
    assert refused.status_code == 422 and error_of(refused)["field"] == "email"


def test_list_import_previews_then_applies_with_the_web_upload_s_rules(api, api_token, db):
    token = api_token()
    preview = api.post(
        "/imports",
        token=token,
        json={
            "organisation": "kor",
            "filename": "kör.csv",
            "csv": "email,name,region\nanna@kor.example.org,Anna,Sörmlnd\nnot-an-address,Bo,Sörmland\n",
        },
    )
    report = preview.get_json()["report"]
    assert preview.get_json()["applied"] is False
    assert [p["choice"] for p in report["blocking"]] == ["region:Sörmlnd"]
    assert report["blocking"][0]["suggestion"] == "Sörmland" and report["rejected"][0]["line"] == 3
    import_id = preview.get_json()["id"]
    blocked = api.post(f"/imports/{import_id}/apply", token=token, json={})
    assert blocked.status_code == 409 and blocked.get_json()["applied"] is False
    with db.transaction() as session:
        assert session.scalar(select(Contact)) is None  # nothing imported while something is to choose
    choices = {"choices": {"regions": {"Sörmlnd": "Sörmland"}}}
    again = api.post(f"/imports/{import_id}/preview", token=token, json=choices).get_json()
    assert again["report"]["blocking"] == [] and again["report"]["imported"] == 1
    applied = api.post(f"/imports/{import_id}/apply", token=token, json=choices)
    assert applied.status_code == 200 and applied.get_json()["applied"] is True
    assert applied.get_json()["report"]["imported"] == 1 and len(applied.get_json()["report"]["rejected"]) == 1
    assert api.post(f"/imports/{import_id}/apply", token=token, json=choices).status_code == 410  # used up
    contacts = api.get("/contacts", token=token, query_string={"organisation": "kor"}).get_json()["items"]
    assert [(c["email"], c["region"]) for c in contacts] == [("anna@kor.example.org", "Sörmland")]
    assert api.post("/imports/bm9wZQ/apply", token=token, json={}).status_code == 404


def test_meetings_create_change_list_and_series_with_their_sessions(api, api_token, db):
    token = api_token()
    made = api.post("/meetings", token=token, json=meeting_body(capacity=30, venue="Stadsbiblioteket"))
    assert made.status_code == 201 and made.get_json()["starts"] == f"{future_year()}-05-06 18:00"
    changed = api.patch(
        "/meetings/eskilstuna",
        token=token,
        json={"starts": f"{future_year()}-05-07 17:00", "capacity": None, "notify": False},
    )
    assert changed.get_json()["ends"] == f"{future_year()}-05-07 19:00" and changed.get_json()["capacity"] is None
    api.post("/meetings", token=token, json=meeting_body("gavle", city="Gävle", region="Gävleborg"))
    with db.transaction() as session:
        series = Series(slug="utbildning", title="Utbildning kulturpolitik")
        session.add(series)
        for meeting in session.scalars(select(Meeting)):
            meeting.series = series
    listed = api.get("/series", token=token).get_json()["items"]
    assert [(s["slug"], [m["slug"] for m in s["sessions"]]) for s in listed] == [
        ("utbildning", ["gavle", "eskilstuna"])
    ]  # by start: Eskilstuna moved a day later
    assert api.get("/series/utbildning", token=token).get_json()["choice"] == "one"
    assert [m["series"] for m in api.get("/meetings", token=token).get_json()["items"]] == ["utbildning"] * 2


def test_campaigns_create_schedule_status_and_cancel(api, api_token, app):
    token = api_token()
    import_list(api, token, "kor", LIST)
    api.post("/meetings", token=token, json=meeting_body())
    made = api.post(
        "/campaigns",
        token=token,
        json={
            "meeting": "eskilstuna",
            "template": "invitation",
            "audience": {"orgs": ["kor"]},
            "note": "första omgången",
        },
    )
    assert made.status_code == 201 and made.get_json()["state"] == "draft"
    campaign_id = made.get_json()["id"]
    send_at = future(days=3).astimezone(app.extensions["mailer.settings"].timezone).strftime("%Y-%m-%d %H:%M")
    scheduled = api.post(f"/campaigns/{campaign_id}/schedule", token=token, json={"send_at": send_at})
    assert scheduled.get_json()["state"] == "scheduled"
    assert api.get(f"/campaigns/{campaign_id}", token=token).get_json()["note"] == "första omgången"
    assert api.post(f"/campaigns/{campaign_id}/cancel", token=token).get_json()["state"] == "cancelled"
    refused = api.post(f"/campaigns/{campaign_id}/start", token=token)
    assert refused.status_code == 409 and error_of(refused)["code"].startswith("wrong_state")
    bad = api.post("/campaigns", token=token, json={"meeting": "eskilstuna", "template": "party", "audience": {}})
    assert bad.status_code == 400 and error_of(bad)["field"] == "template"
    assert api.get("/campaigns/999", token=token).status_code == 404


def test_a_whole_round_driven_with_a_token(api, api_token, app, db, runner, instance_path, settings):
    """Meeting, list, round started, the worker sends it, people answer, the answers read back."""
    token = api_token()
    assert api.post("/meetings", token=token, json=meeting_body(capacity=50)).status_code == 201
    assert import_list(api, token, "kor", LIST)["imported"] == 2
    campaign = api.post(
        "/campaigns",
        token=token,
        json={"meeting": "eskilstuna", "template": "invitation", "audience": {"orgs": ["kor"]}},
    ).get_json()
    assert campaign["recipients"] == 2
    started = api.post(f"/campaigns/{campaign['id']}/start", token=token).get_json()
    assert started["state"] == "running" and started["queued"] == 2

    assert runner.invoke(["worker", "--until-idle"]).exit_code == 0  # the file outbox: instance/outbox/
    assert api.get(f"/campaigns/{campaign['id']}", token=token).get_json()["state"] == "finished"
    mails = sorted((instance_path / "outbox").glob("*.eml"))
    assert len(mails) == 2
    before = dt.datetime.now(dt.UTC)
    browser = app.test_client()
    for mail, said in zip(mails, ("yes", "no"), strict=True):
        message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
        link = RSVP_LINK.search(message.get_body(preferencelist=("plain",)).get_content()).group(0)
        assert answer(browser, link.split("mailer.test", 1)[1], answer=said).status_code in (200, 303)

    answers = api.get("/answers", token=token, query_string={"meeting": "eskilstuna"}).get_json()["items"]
    assert sorted(a["answer"] for a in answers) == ["no", "yes"]
    assert {a["contact"]["email"] for a in answers} == {"anna@kor.example.org", "bo@kor.example.org"}
    assert all(a["contact"]["organisations"] == ["kor"] for a in answers)
    since = api.get("/answers", token=token, query_string={"organisation": "kor", "since": before.isoformat()})
    assert len(since.get_json()["items"]) == 2
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat()
    assert api.get("/answers", token=token, query_string={"since": later}).get_json()["items"] == []
    assert error_of(api.get("/answers", token=token, query_string={"since": "igår"}))["field"] == "since"

    with db.transaction() as session:
        check_in(session, session.scalar(select(Meeting)), ["anna@kor.example.org"])
    came = api.get("/attendance", token=token, query_string={"meeting": "eskilstuna", "organisation": "kor"})
    assert [a["contact"]["email"] for a in came.get_json()["items"]] == ["anna@kor.example.org"]


def test_the_api_has_its_own_rate_limit_with_a_json_429(test_config, api_token):
    app = create_app(test_config | {"api_rate_limit": "3 per minute"})
    app.extensions["mailer.db"].upgrade()
    try:
        with app.app_context():
            pass
        from mailer.staff import tokens

        with app.extensions["mailer.db"].transaction() as session:
            user = accounts.add_staff(session, "a@ax.example.org", "A", "ett långt lösenord")
            token = tokens.create_token(session, user, "read", None, "test")[1]
        client = app.test_client()
        replies = [client.get("/api/v1/meetings", headers={"Authorization": f"Bearer {token}"}) for _ in range(4)]
        assert [r.status_code for r in replies] == [200, 200, 200, 429]
        assert replies[-1].get_json()["error"]["code"] == "too_many"
        assert 1 <= int(replies[-1].headers["Retry-After"]) <= 60
        # one budget per token for the whole API, as docs/api.md says, not one per endpoint
        other = client.get("/api/v1/organisations", headers={"Authorization": f"Bearer {token}"})
        assert other.status_code == 429 and other.get_json()["error"]["code"] == "too_many"
    finally:
        app.extensions["mailer.db"].dispose()


# -- the staff page and the CLI -------------------------------------------------------------------


def test_staff_make_a_token_on_the_web_see_it_once_and_revoke_it(app, db, staff_client, api):
    made = post(staff_client, "/staff/tokens", {"label": "Webbplatsen", "scope": "read"})
    assert made.status_code == 200
    token = re.search(r'id="new-token"[^>]*value="(mailer_[^"]+)"', made.get_data(as_text=True)).group(1)
    assert api.get("/meetings", token=token).status_code == 200
    listing = staff_client.get("/staff/tokens")
    assert token not in listing.get_data(as_text=True) and "Webbplatsen" in text(listing)  # shown once only
    with db.transaction() as session:
        token_id = session.scalar(select(ApiToken.id))
    assert staff_client.post(f"/staff/tokens/{token_id}/revoke").status_code == 400  # no CSRF token: refused
    assert api.get("/meetings", token=token).status_code == 200
    assert post(staff_client, f"/staff/tokens/{token_id}/revoke").status_code == 303
    assert api.get("/meetings", token=token).status_code == 401
    assert "Återkallad" in text(staff_client.get("/staff/tokens"))


def test_cli_makes_lists_and_revokes_tokens(runner, db, api):
    with db.transaction() as session:
        accounts.add_staff(session, "karin@ax.example.org", "Karin", "ett långt lösenord", role="staff")
    made = runner.invoke(["staff", "token", "karin@ax.example.org", "--scope", "write", "--label", "CRM"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert token.startswith("mailer_") and "\n" not in token  # stdout: the token alone, for scripts
    assert api.post("/organisations", token=token, json={"slug": "skf", "name": "SKF"}).status_code == 201
    listed = runner.invoke(["staff", "token", "karin@ax.example.org", "--list"])
    token_id = int(listed.stdout.split()[0])
    assert "CRM" in listed.stdout and "active" in listed.stdout
    assert runner.invoke(["staff", "token", "karin@ax.example.org", "--revoke", token_id]).exit_code == 0
    assert api.get("/organisations", token=token).status_code == 401
    assert runner.invoke(["staff", "token", "karin@ax.example.org", "--scope", "admin"]).exit_code == 2
    assert runner.invoke(["staff", "token", "nobody@ax.example.org", "--scope", "read"]).exit_code == 1
    assert runner.invoke(["staff", "token", "karin@ax.example.org"]).exit_code == 1
