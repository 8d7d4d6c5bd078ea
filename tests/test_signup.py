"""Public sign-up with double opt-in (issue 20 point 3): the form stores only a pending request and
mails a confirmation link; the link's POST makes the contact, records the consent and books the place."""

from __future__ import annotations

import datetime as dt
import email
import re
from email import policy

import pytest
from signup_fixtures import ADDRESS, CONFIRM, FORM, count, queued_link, sign_up
from sqlalchemy import func, select

from mailer.app import create_app
from mailer.config import ConfigError, load_settings
from mailer.contacts.consent import ConsentRecord, LawfulBasis
from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact, Membership, Suppression, SuppressionReason, address_hash
from mailer.db import utcnow
from mailer.meetings.models import Series
from mailer.outbox.models import OutboxMessage
from mailer.privacy.erasure import erase_person
from mailer.privacy.export import export_person
from mailer.rsvp.models import Answer, Response
from mailer.signup import service
from mailer.signup.models import SignupRequest
from mailer.worker.sender import Sender


def test_signing_up_stores_only_a_pending_request_and_confirming_books_the_place(signup_app, sdb, org, smeeting):
    meeting_id, key = smeeting()
    client = signup_app.test_client()
    page = client.get(f"/signup/{key}")
    text = page.get_data(as_text=True)
    assert "Dialogträff Umeå" in text and "Teaterförbundet" in text and "Jag samtycker till att Ax" in text

    sent = sign_up(client, f"/signup/{key}", organisation=str(org))
    assert sent.status_code == 200 and "Kolla din e-post" in sent.get_data(as_text=True)
    assert count(sdb, Contact) == 0 and count(sdb, SignupRequest) == 1
    with sdb.reading() as session:
        message = session.scalar(select(OutboxMessage).where(OutboxMessage.template == "signup_confirmation"))
        assert message.to_email == ADDRESS and message.contact_id is None and message.extra["lang"] == "sv"

    link = queued_link(sdb)
    shown = client.get(link)  # what a link scanner does: nothing changes
    assert shown.status_code == 200 and 'id="confirm"' in shown.get_data(as_text=True)
    assert count(sdb, Contact) == 0

    done = client.post(link)
    assert done.status_code == 200 and "Du är anmäld till Dialogträff Umeå" in done.get_data(as_text=True)
    with sdb.reading() as session:
        contact = session.scalar(select(Contact).where(Contact.email == ADDRESS))
        assert contact.name == "Kim Signup" and contact.language == "sv"
        assert session.get(Membership, {"contact_id": contact.id, "organisation_id": org}) is not None
        consent = session.scalar(select(ConsentRecord).where(ConsentRecord.contact_id == contact.id))
        assert consent.basis is LawfulBasis.CONSENT and consent.text_key == service.CONSENT_TEXT_KEY
        assert consent.text.startswith("Jag samtycker till att Ax") and consent.language == "sv"
        assert consent.purpose == "meeting:umea" and consent.page_url == f"http://mailer.test/signup/{key}"
        assert consent.requested_from == consent.confirmed_from == "127.0.0.0/24"
        assert consent.confirmed_at >= consent.given_at
        response = session.scalar(select(Response).where(Response.contact_id == contact.id))
        assert response.meeting_id == meeting_id and response.answer is Answer.YES and not response.waitlisted
        assert session.scalar(select(func.count()).select_from(SignupRequest)) == 0
        booked = session.scalar(select(OutboxMessage).where(OutboxMessage.template == "confirmation"))
        assert booked.contact_id == contact.id  # the usual booking mail, with its calendar entry

    again = client.post(link)  # used once: the link is spent
    assert again.status_code == 404 and "Länken gäller inte längre" in again.get_data(as_text=True)


def test_a_full_meeting_puts_the_confirmed_person_on_the_waitlist(signup_app, sdb, smeeting, person_in):
    meeting_id, key = smeeting(capacity=1)
    first = person_in(sdb, "first@example.org")
    from mailer.rsvp.answers import record_answer

    settings = signup_app.extensions["mailer.settings"]
    with sdb.transaction() as session:
        from mailer.meetings.models import Meeting

        record_answer(
            session, session.get(Contact, first), session.get(Meeting, meeting_id), {"answer": "yes"}, settings.timezone
        )
    client = signup_app.test_client()
    sign_up(client, f"/signup/{key}", organisation="other")
    done = client.post(queued_link(sdb))
    assert "väntelistan" in done.get_data(as_text=True)
    with sdb.reading() as session:
        contact = session.scalar(select(Contact).where(Contact.email == ADDRESS))
        response = session.scalar(select(Response).where(Response.contact_id == contact.id))
        assert response.answer is Answer.YES and response.waitlisted
        assert session.scalar(select(func.count()).select_from(Membership)) == 0  # "other/none": no list


def test_a_meeting_with_a_required_question_still_takes_the_sign_up_and_asks_it_on_the_answer_page(
    signup_app, sdb, org, smeeting
):
    """The sign-up form does not ask the meeting's questions: the confirmed yes is taken without
    them (not a 500 that rolls back contact, consent and place), and the answer page asks them."""
    from rsvp_fixtures import answer, links_for

    from mailer.meetings.models import Meeting
    from mailer.meetings.questions import add_question

    meeting_id, key = smeeting()
    with sdb.transaction() as session:
        question = add_question(
            session,
            session.get(Meeting, meeting_id),
            label_sv="Vilken workshop?",
            kind="choice",
            options_sv="Dans\nTeater",
            required=True,
        )
        field = question.field
    client = signup_app.test_client()
    sign_up(client, f"/signup/{key}", organisation=str(org))
    done = client.post(queued_link(sdb))
    assert done.status_code == 200 and "Du är anmäld till Dialogträff Umeå" in done.get_data(as_text=True)
    with sdb.reading() as session:
        contact = session.scalar(select(Contact).where(Contact.email == ADDRESS))
        assert session.scalar(select(ConsentRecord).where(ConsentRecord.contact_id == contact.id)) is not None
        response = session.scalar(select(Response).where(Response.contact_id == contact.id))
        assert response.meeting_id == meeting_id and response.answer is Answer.YES and not response.waitlisted
        assert response.answers == []
        contact_id = contact.id

    path = links_for(signup_app, contact_id, meeting_id)["rsvp_url"]
    assert "Vilken workshop?" in client.get(path).get_data(as_text=True)
    refused = answer(client, path, answer="yes", guests="0")  # a yes on the answer page is asked for it
    assert refused.status_code == 422 and "Svara på frågan." in refused.get_data(as_text=True)
    assert answer(client, path, answer="yes", guests="0", **{field: "Teater"}).status_code == 303
    with sdb.reading() as session:
        response = session.scalar(select(Response).where(Response.contact_id == contact_id))
        assert [given.value for given in response.answers] == ["Teater"] and response.answer is Answer.YES


def test_a_series_sign_up_makes_a_contact_with_interest_recorded_in_english(signup_app, sdb, org):
    with sdb.transaction() as session:
        series = Series(slug="utbildning", title="Training in cultural policy", description="Five sessions.")
        session.add(series)
        session.flush()
        key = series.link_key
    client = signup_app.test_client()
    page = client.get(f"/signup/{key}?lang=en")
    assert 'lang="en"' in page.get_data(as_text=True) and "I agree that Ax" in page.get_data(as_text=True)
    sent = sign_up(client, f"/signup/{key}?lang=en", organisation=str(org), lang="en")
    assert "Check your email" in sent.get_data(as_text=True)
    with sdb.reading() as session:
        message = session.scalar(select(OutboxMessage).where(OutboxMessage.template == "signup_confirmation"))
        assert message.extra["lang"] == "en" and message.extra["signup"]["kind"] == "series"
    done = client.post(queued_link(sdb))
    assert "We have noted your interest in Training in cultural policy" in done.get_data(as_text=True)
    with sdb.reading() as session:
        contact = session.scalar(select(Contact).where(Contact.email == ADDRESS))
        assert contact.language == "en"
        consent = session.scalar(select(ConsentRecord).where(ConsentRecord.contact_id == contact.id))
        assert consent.purpose == "series:utbildning" and consent.text.startswith("I agree that Ax")
        assert session.scalar(select(func.count()).select_from(Response)) == 0


def test_the_confirmation_mail_reaches_the_file_outbox_in_the_pages_language(signup_app, sdb, smeeting):
    _, key = smeeting()
    client = signup_app.test_client()
    sign_up(client, f"/signup/{key}?lang=en", organisation="other", lang="en")
    settings = signup_app.extensions["mailer.settings"]
    sender = Sender(sdb, settings, signup_app.extensions["mailer.templates"])
    try:
        while sender.run_once().claimed:
            pass
    finally:
        sender.close()
    files = list(settings.outbox_path.glob("*.eml"))
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["To"].addresses[0].addr_spec == ADDRESS
    assert message["Subject"] == "Please confirm your sign-up: Dialogträff Umeå"
    body = message.get_body(("plain",)).get_content()
    link = CONFIRM.search(body).group(1)
    assert client.get(link).status_code == 200 and "List-Unsubscribe" not in message


def test_bots_are_refused_with_a_clear_message_and_nothing_is_stored(signup_app, sdb, smeeting, test_config):
    _, key = smeeting()
    client = signup_app.test_client()
    trapped = sign_up(client, f"/signup/{key}", organisation="other", website="http://spam.example")
    assert trapped.status_code == 400 and "Vi kunde inte ta emot anmälan" in trapped.get_data(as_text=True)
    forged = client.post(
        f"/signup/{key}",
        data={"form": "forged", "name": "Kim", "email": ADDRESS, "organisation": "other", "consent": "yes"},
    )
    assert forged.status_code == 400 and 'id="refused"' in forged.get_data(as_text=True)
    assert count(sdb, SignupRequest) == 0 and count(sdb, OutboxMessage) == 0


def test_a_form_sent_faster_than_a_person_can_is_refused(app, db, make_meeting):
    """The default time check (3 seconds) with the real clock: posted at once, refused."""
    with db.reading() as session:
        from mailer.meetings.models import Meeting

        key = session.get(Meeting, make_meeting().id).link_key
    client = app.test_client()
    sent = sign_up(client, f"/signup/{key}", organisation="other")
    assert sent.status_code == 400 and "för snabbt" in sent.get_data(as_text=True)
    assert count(db, SignupRequest) == 0


def test_a_sign_up_flood_is_rate_limited(test_config, smeeting_factory):
    app = create_app({**test_config, "signup_min_seconds": 0, "signup_rate_limit": "3 per minute"})
    app.extensions["mailer.db"].upgrade()
    try:
        key = smeeting_factory(app)
        client = app.test_client()
        codes = [
            sign_up(client, f"/signup/{key}", organisation="other", email=f"p{n}@example.org").status_code
            for n in range(5)
        ]
        assert codes == [200, 200, 200, 429, 429]
        assert count(app.extensions["mailer.db"], SignupRequest) == 3
    finally:
        app.extensions["mailer.db"].dispose()


@pytest.fixture
def smeeting_factory():
    from helpers import future_year

    from mailer.meetings.service import add_meeting, parse_local

    def make(app) -> str:
        settings = app.extensions["mailer.settings"]
        starts = parse_local("starts", f"{future_year()}-05-06 18:00", settings.timezone)
        with app.extensions["mailer.db"].transaction() as session:
            return add_meeting(
                session,
                settings.timezone,
                slug="flood",
                title="Träff",
                region="Sörmland",
                city="Eskilstuna",
                starts=f"{future_year()}-05-06 18:00",
                now=starts - dt.timedelta(days=30),
            ).link_key

    return make


def test_the_answer_never_says_whether_an_address_is_known_and_repeats_send_no_mail(
    signup_app, sdb, smeeting, person_in
):
    _, key = smeeting()
    person_in(sdb, "known@example.org")
    client = signup_app.test_client()
    known = sign_up(client, f"/signup/{key}", organisation="other", email="known@example.org")
    unknown = sign_up(client, f"/signup/{key}", organisation="other", email="unknown@example.org")
    strip = re.compile(r"[^\n]*(known|unknown)@example.org[^\n]*")
    assert known.status_code == unknown.status_code == 200
    assert strip.sub("", known.get_data(as_text=True)) == strip.sub("", unknown.get_data(as_text=True))
    repeat = sign_up(client, f"/signup/{key}", organisation="other", email="unknown@example.org")
    assert repeat.get_data(as_text=True) == unknown.get_data(as_text=True)
    with sdb.reading() as session:
        mails = session.scalars(
            select(OutboxMessage.to_email).where(OutboxMessage.template == "signup_confirmation")
        ).all()
    assert sorted(mails) == ["known@example.org", "unknown@example.org"]  # the repeat mailed nobody


def test_bad_input_names_the_field_and_keeps_what_was_typed(signup_app, sdb, smeeting):
    _, key = smeeting()
    client = signup_app.test_client()
    no_consent = sign_up(client, f"/signup/{key}", organisation="other", consent=None)
    text = no_consent.get_data(as_text=True)
    assert no_consent.status_code == 422 and 'href="#consent"' in text and 'value="Kim Signup"' in text
    bad_address = sign_up(client, f"/signup/{key}", organisation="other", email="not-an-address")
    assert bad_address.status_code == 422 and 'href="#email"' in bad_address.get_data(as_text=True)
    no_org = sign_up(client, f"/signup/{key}", organisation="")
    assert no_org.status_code == 422 and 'href="#organisation"' in no_org.get_data(as_text=True)
    assert client.get("/signup/no-such-key").status_code == 404
    assert count(sdb, SignupRequest) == 0


def test_unconfirmed_requests_expire_after_seven_days_and_retention_deletes_them(signup_app, sdb, smeeting):
    _, key = smeeting()
    client = signup_app.test_client()
    sign_up(client, f"/signup/{key}", organisation="other")
    link = queued_link(sdb)
    with sdb.transaction() as session:
        assert service.delete_expired(session, utcnow() + dt.timedelta(days=6)) == 0
        session.execute(SignupRequest.__table__.update().values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    gone = client.post(link)
    assert gone.status_code == 404 and count(sdb, Contact) == 0
    with sdb.transaction() as session:
        assert service.delete_expired(session) == 1
    assert count(sdb, SignupRequest) == 0


def test_confirming_lifts_an_earlier_unsubscription_of_the_address(signup_app, sdb, smeeting):
    _, key = smeeting()
    with sdb.transaction() as session:
        session.add(
            Suppression(address_hash=address_hash(ADDRESS), email=ADDRESS, reason=SuppressionReason.UNSUBSCRIBED)
        )
    client = signup_app.test_client()
    sign_up(client, f"/signup/{key}", organisation="other")
    client.post(queued_link(sdb))
    assert count(sdb, Suppression) == 0


def test_the_page_may_be_framed_by_the_listed_sites_and_records_the_embedding_origin(test_config, smeeting_factory):
    app = create_app({**test_config, "signup_min_seconds": 0, "signup_embed_origins": "https://www.ax.example"})
    app.extensions["mailer.db"].upgrade()
    try:
        key = smeeting_factory(app)
        client = app.test_client()
        page = client.get(
            f"/signup/{key}", headers={"Sec-Fetch-Dest": "iframe", "Referer": "https://www.ax.example/kalender/umea"}
        )
        assert "frame-ancestors 'self' https://www.ax.example;" in page.headers["Content-Security-Policy"]
        token = FORM.search(page.get_data(as_text=True)).group(1)
        client.post(
            f"/signup/{key}",
            data={"form": token, "name": "Kim", "email": ADDRESS, "consent": "yes", "organisation": "other"},
        )
        with app.extensions["mailer.db"].reading() as session:
            assert session.scalar(select(SignupRequest.embedded_from)) == "https://www.ax.example"
        other = client.get("/r/anything")
        assert "frame-ancestors 'none'" in other.headers["Content-Security-Policy"]  # other pages: never framed
    finally:
        app.extensions["mailer.db"].dispose()


def test_embed_origins_must_be_origins(tmp_path):
    base = {"instance_path": tmp_path, "secret_key": "x" * 20, "base_url": "http://m.test", "from": "a@b.example"}
    with pytest.raises(ConfigError, match="MAILER_SIGNUP_EMBED_ORIGINS"):
        load_settings({**base, "signup_embed_origins": "https://www.ax.example/page"})
    settings = load_settings({**base, "signup_embed_origins": ["https://WWW.ax.example/", "http://localhost:8000"]})
    assert settings.signup_embed_origins == ("https://www.ax.example", "http://localhost:8000")


def test_consent_records_are_exported_with_the_person_and_erased_with_them(signup_app, sdb, smeeting, make_csv):
    _, key = smeeting()
    with sdb.transaction() as session:
        import_lists(session, [make_csv("teaterforbundet.csv", f"email,name\n{ADDRESS},Kim Signup\n")])
    client = signup_app.test_client()
    sign_up(client, f"/signup/{key}", organisation="other")
    client.post(queued_link(sdb))
    with sdb.reading() as session:
        exported = export_person(session, ADDRESS)
    records = exported["consent_records"]
    assert [r["basis"] for r in records] == ["member_list", "consent"]
    assert records[0]["organisation"] == "teaterforbundet" and records[0]["purpose"] == "member_list:teaterforbundet"
    assert records[1]["text_key"] == service.CONSENT_TEXT_KEY and records[1]["requested_from"] == "127.0.0.0/24"

    settings = signup_app.extensions["mailer.settings"]
    erasure = erase_person(sdb, settings, ADDRESS, actor="test")
    assert erasure.rows["consent_records"] == 2 and count(sdb, ConsentRecord) == 0


def test_staff_find_the_sign_up_link_and_the_embed_code_on_the_meeting_page(app, db, staff_client, make_meeting):
    meeting = make_meeting(slug="kiruna", title="Dialogträff Kiruna")
    reply = staff_client.get("/staff/meetings/kiruna/edit")
    page = reply.get_data(as_text=True)
    url = f"http://mailer.test/signup/{meeting.link_key}"
    assert reply.status_code == 200 and f'href="{url}"' in page and f'&lt;iframe src="{url}"' in page
