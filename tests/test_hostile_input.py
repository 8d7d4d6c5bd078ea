"""Hostile input, from the links anyone can hold and the files staff import.

Forged, truncated, odd and replayed links; oversize bodies, headers and fields; CR/LF meant
to add mail headers; markup and template syntax in every field that reaches a page or a mail;
formulas in exports; CSV files that are binary, 50 MB, a million columns wide, badly quoted
or full of control characters; dates out of range; strings that look like SQL.
Each gets a clear error or is rendered harmless, and nothing already stored is lost or changed.
(Plain forged/truncated tokens on the test client, CSRF, field limits and a first escaping
check are in test_rsvp_links.py, test_rsvp_answers.py and test_campaigns.py.)
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import re
import socket
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import future_year, past_year
from icalendar import Calendar
from openpyxl import load_workbook
from rsvp_fixtures import answer, confirmations, csrf_of, links_for, response_of, send_outbox
from sqlalchemy import func, inspect, select, text

from mailer.attendance.checkin import check_in
from mailer.campaigns import service
from mailer.campaigns.audience import Audience
from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact, Organisation
from mailer.digest.build import send_digest
from mailer.evaluations.models import Evaluation
from mailer.mail.templates import EmailTemplates, TemplateProblem, packaged_templates_path
from mailer.meetings.models import Meeting
from mailer.meetings.questions import add_question
from mailer.meetings.service import MeetingError
from mailer.outbox.models import OutboxMessage
from mailer.rsvp.models import Response, ResponseChange
from mailer.rsvp.questions import given_answers
from mailer.tracking.export import FORMULA_START, attendee_rows, to_csv
from mailer.tracking.org_report import org_report, queue_org_report
from mailer.tracking.report import board_report, to_html

YEAR = future_year()  # a year still ahead: the tests keep their month and day, never go stale
LAST_YEAR = past_year()  # a year wholly behind us: its meetings have taken place


STAFF = "kansli@ax.example.org"


def payload(label: str) -> str:
    """Markup that would run if unescaped, an attribute break-out, and template syntax."""
    return f"{label}<script>alert('{label}')</script>\"'><svg/onload=alert(1)>{{{{ 7*191 }}}}{{{{ ''.__class__ }}}}"


def snapshot(db) -> dict:
    with db.engine.connect() as connection:
        tables = sorted(inspect(connection).get_table_names())
        return {
            t: sorted(map(repr, connection.execute(text(f"SELECT * FROM {t}"))))
            for t in tables
            if t not in ("link_opens", "apscheduler_jobs", "audit_log")
        }


def csv_text(*rows: list[str]) -> str:
    """Rows as a spreadsheet writes them (quotes doubled, fields with newlines quoted)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


class Markup(HTMLParser):
    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)


def assert_inert(html: str, *shown: str) -> None:
    """No element or attribute from data, and each data value shown as text (or as a form value)."""
    page = Markup(html)
    for tag, attrs in page.tags:
        assert tag not in ("script", "svg", "iframe", "object", "embed"), (tag, attrs)
        assert not (tag == "img" and attrs.get("src") == "x"), attrs
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        for name in ("href", "src", "action"):
            assert not attrs.get(name, "").strip().lower().startswith("javascript:"), attrs
    visible = "".join(page.text) + "\n".join(v for _, attrs in page.tags for v in attrs.values())
    for value in shown:
        assert value in visible, value
    assert "1337" not in visible and "<class " not in visible  # no template syntax was evaluated


INJECTED = re.compile(rb"^(Bcc|Cc|X-Injected|BEGIN:VEVENT)", re.MULTILINE | re.IGNORECASE)


def assert_one_line_headers(data: bytes) -> None:
    """Exactly the headers we write, in the message and in each of its parts; data stays in the values."""
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    for name in ("From", "To", "Subject", "Message-ID", "Date"):
        assert len(parsed.get_all(name) or []) == 1, name
    for part in parsed.walk():
        for name in ("Bcc", "Cc", "Reply-To", "X-Injected"):
            assert part.get_all(name) is None, name
    assert "\n" not in str(parsed["Subject"]) and "\r" not in str(parsed["Subject"])
    head = data.split(b"\r\n\r\n", 1)[0]
    assert not INJECTED.search(head), head


# -- links: forged, truncated, odd, replayed -----------------------------------------------------


def test_odd_links_get_a_404_from_the_real_server_and_change_nothing(app, db, live_server, person, make_meeting):
    meeting = make_meeting(slug="falun").id
    anna = person("anna@example.org", "Anna")
    links = links_for(app, anna, meeting)
    token = links["rsvp_url"].rsplit("/", 1)[1]
    body, signature = token.split(".")
    odd = [
        f"/r/{token}x",
        f"/r/{token[:-1]}",
        f"/r/{body}.",
        f"/r/.{signature}",
        f"/r/{signature}.{body}",
        f"/r/{body}.{signature}.{signature}",
        f"/r/{body.swapcase()}.{signature}",
        "/r/%00",
        f"/r/{token}%00",
        "/r/" + "A" * 3000,
        "/r/%FF%FE%FD",
        f"/r/{urllib.parse.quote('å' + token[1:])}",
        "/r/..%2F..%2Fetc%2Fpasswd",
        "/r/W10.AAAA",
        "/u/" + "x." * 1000,
        f"/e/{token}",
        f"/u/{token}",
        f"/r/{token[:-1]}/calendar.ics",
        "/r/%27%20OR%201%3D1%20--",
        "/r/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ]
    before = snapshot(db)
    visitor = live_server.browser(follow=False)
    token_page = csrf_of(visitor.get(links["unsubscribe_url"])[2].decode())  # a valid form token, for the POSTs
    for path in odd:
        status, _, page = visitor.get(path)
        assert status == 404, (path, status)
        assert b"Traceback" not in page and b"<script>" not in page
        assert visitor.post(
            path, {"csrf_token": token_page, "answer": "yes", "List-Unsubscribe": "One-Click", "action": "unsubscribe"}
        )[0] in (404, 405), path  # 405: calendar.ics is GET only
    assert snapshot(db) == before
    assert live_server.process.poll() is None


def test_a_replayed_answer_is_recorded_once_and_a_revoked_link_replays_nothing(
    app, db, runner, live_server, person, make_meeting
):
    meeting = make_meeting(slug="falun", max_guests=2).id
    anna = person("anna@example.org", "Anna")
    path = links_for(app, anna, meeting)["rsvp_url"]
    visitor = live_server.browser(follow=False)
    form = {"csrf_token": csrf_of(visitor.get(path)[2].decode()), "answer": "yes", "guests": "1", "comment": "Hej"}
    assert [visitor.post(path, form)[0] for _ in range(10)] == [303] * 10  # the same request, captured and resent
    response = response_of(db, anna, meeting)
    assert (response.answer.value, response.guests, len(response.history)) == ("yes", 1, 1)
    assert len(confirmations(db)) == 1

    assert runner.invoke(["contacts", "revoke-links", "anna@example.org"]).exit_code == 0
    replayed = visitor.post(path, {**form, "answer": "no"})
    assert replayed[0] == 404
    response = response_of(db, anna, meeting)
    assert (response.answer.value, len(response.history)) == ("yes", 1)
    assert len(confirmations(db)) == 1


# -- repeated fields -------------------------------------------------------------------------------


def repeated_fields_world(app, db, person, make_meeting) -> tuple[int, int, str, str]:
    """A meeting (and its one-session series) with a text, a one-choice and a multi-choice question.

    -> (anna, meeting id, the one-choice field, the multi-choice field)."""
    from mailer.meetings.questions import add_question

    meeting = make_meeting(slug="falun", max_guests=2).id
    anna = person("anna@example.org", "Anna")
    with db.transaction() as session:
        owner = session.get(Meeting, meeting)
        choice = add_question(session, owner, label_sv="Workshop", kind="choice", options_sv="Dans\nTeater").field
        multi = add_question(session, owner, label_sv="Dagar", kind="multi", options_sv="Fre\nLör\nSön").field
    return anna, meeting, choice, multi


def test_fields_sent_twice_take_their_first_value_and_ticked_boxes_all_of_theirs(app, db, person, make_meeting):
    """A hand-made or replayed form may send any field twice: never a 500. The answer's fields and
    one-value questions take the first value, a multi-choice question every box ticked."""
    anna, meeting, choice, multi = repeated_fields_world(app, db, person, make_meeting)
    path = links_for(app, anna, meeting)["rsvp_url"]
    client = app.test_client()
    sent = answer(
        client,
        path,
        answer=["yes", "no"],
        guests=["1", "2"],
        comment=["Första", "Andra"],
        diet=["Vegan", "Laktosfri"],
        **{choice: ["", "Teater", "Dans"], multi: ["", "Fre", "Sön"]},
    )
    assert sent.status_code == 303, sent.status_code
    response = response_of(db, anna, meeting)
    assert (response.answer.value, response.guests, response.comment) == ("yes", 1, "Första")
    assert given_answers(response) == {"diet": "Vegan", choice: "Teater", multi: ["Fre", "Sön"]}
    shown = client.get(path).get_data(as_text=True)
    assert 'value="Vegan"' in shown and "Första" in shown

    refused = answer(client, path, answer=["kanske", "yes"], comment=["Tredje", "Fjärde"])  # the first is no answer
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert 'id="answer-error"' in page and "Tredje" in page and "Fjärde" not in page and "[&#39;" not in page
    too_many = answer(client, path, answer="yes", guests=["5", "1"], **{multi: ["Lör"]})
    assert too_many.status_code == 422 and 'id="guests-error"' in too_many.get_data(as_text=True)
    response = response_of(db, anna, meeting)  # nothing of the refused forms was written
    assert (response.guests, response.comment, len(response.history)) == (1, "Första", 1)
    assert given_answers(response)[multi] == ["Fre", "Sön"]


def test_fields_sent_twice_on_the_series_page_are_no_error_either(app, db, runner, person, make_meeting):
    from mailer.mail.context import links
    from mailer.meetings.series import get_series

    anna, meeting, _, _ = repeated_fields_world(app, db, person, make_meeting)
    assert runner.invoke(["series", "create", "kurs", "--title", "Kurs"]).exit_code == 0
    assert runner.invoke(["series", "add", "kurs", "falun"]).exit_code == 0
    with db.transaction() as session:
        series = get_series(session, "kurs")
        path = links(app.extensions["mailer.settings"], session.get(Contact, anna), None, series)["series_url"]
        path = urllib.parse.urlsplit(path).path
    client = app.test_client()
    sent = answer(client, path, answer=["yes", "no"], session=["falun", "falun"], diet=["Vegan", "Laktosfri"])
    assert sent.status_code == 303, sent.status_code
    response = response_of(db, anna, meeting)
    assert response.answer.value == "yes" and given_answers(response) == {"diet": "Vegan"}


# -- oversize --------------------------------------------------------------------------------------


def raw_request(port: int, data: bytes) -> int:
    """Send bytes as they are (no client library tidies them) and return the status code."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(data)
        reply = b""
        while b"\r\n" not in reply:
            chunk = connection.recv(4096)
            if not chunk:
                break
            reply += chunk
    return int(reply.split(b" ", 2)[1])


def test_oversize_bodies_headers_urls_and_fields_are_refused_and_the_server_carries_on(
    app, db, live_server, person, make_meeting
):
    meeting = make_meeting(slug="falun", max_guests=2).id
    anna = person("anna@example.org", "Anna")
    path = links_for(app, anna, meeting)["rsvp_url"]
    port = urllib.parse.urlsplit(live_server.base).port
    visitor = live_server.browser(follow=False)
    token = csrf_of(visitor.get(path)[2].decode())
    assert visitor.post(path, {"csrf_token": token, "answer": "yes", "diet": "Vegan"})[0] == 303
    before = snapshot(db)

    host = f"Host: 127.0.0.1:{port}\r\n".encode()
    huge = b"POST " + path.encode() + b" HTTP/1.1\r\n" + host + b"Content-Type: application/x-www-form-urlencoded\r\n"
    assert raw_request(port, huge + b"Content-Length: %d\r\n\r\ncomment=" % (3 * 1024 * 1024) + b"x" * 60_000) == 413
    many = "&".join(f"f{i}=v" for i in range(5000)).encode()
    multipart = b"".join(b'--b\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % i for i in range(2000))
    assert visitor.post(path, multipart + b"--b--\r\n", {"Content-Type": "multipart/form-data; boundary=b"})[0] == 413
    assert visitor.post(path, many, {"Content-Type": "application/x-www-form-urlencoded"})[0] == 400  # no CSRF token
    assert raw_request(
        port, b"GET " + path.encode() + b" HTTP/1.1\r\n" + host + b"X-Big: " + b"a" * 100_000 + b"\r\n\r\n"
    ) in (400, 431)
    assert raw_request(port, b"GET /r/" + b"A" * 20_000 + b" HTTP/1.1\r\n" + host + b"\r\n") in (400, 414)
    assert raw_request(
        port, b"POST " + path.encode() + b" HTTP/1.1\r\n" + host + b"Content-Length: 99999999999999999999\r\n\r\n"
    ) in (400, 413)
    assert raw_request(port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(200) + b"\r\n\r\n") == 400  # TLS
    assert snapshot(db) == before  # none of it changed anything

    for fields in (
        {"guests": "²"},
        {"guests": "٣"},
        {"guests": "9" * 5000},
        {"guests": "1e3"},
        {"diet": "x" * 301},
        {"comment": "å" * 1001},
    ):
        status, _, page = visitor.post(path, {"csrf_token": token, "answer": "yes", **fields})
        assert status == 422, fields
        assert "Något behöver rättas" in page.decode()
    assert snapshot(db) == before

    at_limit = {"diet": "🌱" * 300, "accessibility": "ö" * 300, "comment": "😀\r\nrad två" + "x" * 990}
    assert visitor.post(path, {"csrf_token": token, "answer": "yes", **at_limit})[0] == 303
    response = response_of(db, anna, meeting)
    given = given_answers(response)
    assert (given["diet"], given["accessibility"], response.comment) == tuple(at_limit.values())
    assert [c.answers["diet"] for c in response.history] == ["Vegan", "🌱" * 300]  # nothing lost on the way
    assert visitor.get("/healthz")[0] == 200 and live_server.process.poll() is None


# -- CR/LF: header injection -------------------------------------------------------------------------


def test_crlf_in_names_titles_and_organisation_names_adds_no_header(app, db, runner, person, make_csv, smtp_server):
    make_csv(
        "organisations.csv",
        csv_text(
            ["slug", "name", "region", "email"],
            ["kor", "Kör\r\nBcc: victim@example.org", "Dalarna", "kansli@kor.example.org"],
        ),
    )
    path = make_csv("kor.csv", csv_text(["email", "name"], ["anna@kor.example.org", "Anna\r\nBcc: victim@example.org"]))
    assert runner.invoke(["contacts", "import", path]).exit_code == 0
    bo = person("bo@kor.example.org", "Bo\r\nBcc: victim@example.org\r\nX-Injected: 1")  # straight into the table
    added = runner.invoke(
        [
            "meetings",
            "add",
            "--slug",
            "falun",
            "--region",
            "Dalarna",
            "--city",
            "Falun\r\nX-Injected: 1",
            "--title",
            "Träff\r\nBcc: victim@example.org\r\nX-Injected: 1",
            "--starts",
            f"{YEAR}-05-06 18:00",
            "--host",
            "Region\nX-Injected: 1",
            "--venue",
            "Museet\r\nEND:VEVENT\r\nBEGIN:VEVENT",
        ]
    )
    assert added.exit_code == 0, added.output
    created = runner.invoke(["campaigns", "create", "--meeting", "falun", "--template", "invitation", "--all"])
    campaign_id = created.stdout.strip()
    settings = app.extensions["mailer.settings"].with_overrides(staff_emails=(STAFF,))
    with db.transaction() as session:
        service.start(session, service.get_campaign(session, int(campaign_id)))
        queue_org_report(session, settings, org_report(session, "kor", settings.timezone))
    client = app.test_client()
    answer(client, links_for(app, bo, meeting_id(db, "falun"))["rsvp_url"], answer="yes")
    with db.transaction() as session:
        send_digest(session, settings)
    send_outbox(app, smtp_server.url)

    assert sorted(smtp_server.recipients()) == sorted(
        ["anna@kor.example.org", "bo@kor.example.org", "bo@kor.example.org", "kansli@kor.example.org", STAFF]
    )
    for received in smtp_server.received:
        assert "victim@example.org" not in received.envelope_to
        assert_one_line_headers(received.data)
    invitation = smtp_server.to("anna@kor.example.org")[0].message
    assert str(invitation["Subject"]).startswith("Inbjudan: Träff Bcc: victim@example.org X-Injected: 1, ")
    (ics,) = [p for p in invitation.iter_attachments() if p.get_content_type() == "text/calendar"]
    calendar = Calendar.from_ical(ics.get_payload(decode=True))
    events = [c for c in calendar.walk() if c.name == "VEVENT"]
    assert len(events) == 1 and "END:VEVENT" in str(events[0]["LOCATION"])  # kept as text, not as structure
    assert "ATTENDEE" not in events[0]


def meeting_id(db, slug: str) -> int:
    with db.transaction() as session:
        return session.scalar(select(Meeting.id).where(Meeting.slug == slug))


# -- markup and template syntax in every page and every mail -----------------------------------------


@pytest.fixture
def hostile_world(app, db, make_csv, make_meeting, person, smtp_server):
    """Every field that reaches a page or a mail carries a payload: names, organisation names,
    every meeting field, answers, evaluation comments, a rejected address."""
    make_csv(
        "organisations.csv",
        csv_text(
            ["slug", "name", "region", "email"],
            ["hostile", payload("org"), payload("orgregion"), "kansli@hostile.example.org"],
        ),
    )
    lists = make_csv(
        "hostile.csv",
        csv_text(
            ["email", "name", "role"],
            ["anna@hostile.example.org", payload("namn"), payload("roll")],
            [payload("avvisad"), "Avvisad"],
        ),
    )
    with db.transaction() as session:
        import_lists(session, [lists])
    direct = person("bo@hostile.example.org", payload("direkt"))
    meeting = make_meeting(
        slug="falun",
        title=payload("titel"),
        host=payload("värd"),
        venue=payload("lokal"),
        city=payload("stad"),
        region="Dalarna",
        description=payload("beskrivning"),
        max_guests=2,
        capacity=1,
    ).id
    settings = app.extensions["mailer.settings"].with_overrides(staff_emails=(STAFF,))
    templates = app.extensions["mailer.templates"]
    with db.transaction() as session:
        anna = session.scalar(select(Contact.id).where(Contact.email == "anna@hostile.example.org"))
        for template in ("invitation", "reminder"):
            campaign = service.create_campaign(
                session, settings, templates, meeting_slug="falun", template=template, audience=Audience(all=True)
            )
            service.start(session, campaign)
    return {"meeting": meeting, "anna": anna, "bo": direct, "settings": settings, "templates": templates}


def test_markup_and_template_syntax_show_as_text_on_every_page(app, db, hostile_world, make_meeting):
    w = hostile_world
    client = app.test_client()
    links = links_for(app, w["anna"], w["meeting"])
    fields = ["titel", "värd", "lokal", "beskrivning"]
    meeting_shown = [f"<script>alert('{f}')</script>" for f in fields]

    page = client.get(links["rsvp_url"])
    assert page.status_code == 200
    assert_inert(page.get_data(as_text=True), *meeting_shown)
    typed = {"diet": payload("kost"), "accessibility": payload("behov"), "comment": payload("kommentar")}
    invalid = answer(client, links["rsvp_url"], answer="kanske", **typed)
    assert invalid.status_code == 422
    assert_inert(invalid.get_data(as_text=True), *typed.values())
    assert answer(client, links["rsvp_url"], answer="yes", guests="0", **typed).status_code == 303
    saved = client.get(links["rsvp_url"] + "?saved=1")
    assert_inert(saved.get_data(as_text=True), *typed.values(), *meeting_shown)
    response = response_of(db, w["anna"], w["meeting"])
    given = given_answers(response)
    assert (given["diet"], given["accessibility"], response.comment) == tuple(typed.values())  # stored as typed

    bo = links_for(app, w["bo"], w["meeting"])
    waiting = answer(client, bo["rsvp_url"], answer="yes")  # the one place is taken: the waitlist page
    assert_inert(client.get(waiting.headers["Location"]).get_data(as_text=True), *meeting_shown)
    assert_inert(client.get(links["unsubscribe_url"]).get_data(as_text=True))
    assert_inert(client.get(links["rsvp_url"][:-3] + "<x>").get_data(as_text=True))  # the 404 page

    with db.transaction() as session:
        check_in(session, session.get(Meeting, w["meeting"]), ["anna@hostile.example.org"])
    evaluation = client.get(links["evaluation_url"])
    assert evaluation.status_code == 200
    assert_inert(evaluation.get_data(as_text=True), "<script>alert('titel')</script>")
    token = csrf_of(evaluation.get_data(as_text=True))
    bad = client.post(links["evaluation_url"], data={"csrf_token": token, "value": "9", "comment": payload("utv")})
    assert bad.status_code == 422
    assert_inert(bad.get_data(as_text=True), payload("utv"))
    good = client.post(
        links["evaluation_url"],
        data={"csrf_token": token, "value": "4", "knowledge": "5", "cooperation": "yes", "comment": payload("utv")},
    )
    assert good.status_code == 303
    with db.transaction() as session:
        assert session.scalar(select(Evaluation.comment)) == payload("utv")
    make_meeting(
        slug="forr",
        title=payload("titel2"),
        starts=f"{LAST_YEAR}-03-04 18:00",
        city=payload("stad2"),
        host=payload("värd2"),
        region="Gotland",
    )  # the board report lists meetings held
    with db.transaction() as session:
        report = board_report(session, w["settings"], None, None)
    assert_inert(to_html(report), *[f"<script>alert('{f}')</script>" for f in ("stad2", "värd2")])
    with pytest.raises(MeetingError, match="is not a region"):  # a region is one of a fixed list
        make_meeting(slug="fel", title="T", region=payload("region"))


def assert_inert_staff_page(html: str, *shown: str) -> None:
    """As assert_inert, but a staff page may hold email previews: sandboxed frames (no scripts)
    whose srcdoc is itself checked as a page."""
    page = Markup(html)
    frames = [attrs for tag, attrs in page.tags if tag == "iframe"]
    for attrs in frames:
        assert "sandbox" in attrs and "allow-scripts" not in attrs["sandbox"], attrs
        assert_inert(attrs.get("srcdoc", ""))
    own_script = r'<script src="/staff/static/staff\.js" defer></script>'  # the app's own, no inline script
    assert_inert(re.sub(own_script, "", re.sub(r"(?s)<iframe\b.*?</iframe>", "", html)), *shown)


def test_markup_and_template_syntax_show_as_text_on_every_staff_page(app, db, hostile_world):
    from staff_helpers import log_in

    from mailer.attendance.checkin import add_walk_in
    from mailer.staff.accounts import add_staff

    w = hostile_world
    with db.transaction() as session:
        add_staff(session, STAFF, payload("kansli"), "ett långt lösenord")
        meeting = session.get(Meeting, w["meeting"])
        check_in(session, meeting, ["anna@hostile.example.org"])
        add_walk_in(session, meeting, payload("gäst"), payload("gästorg"))
        campaign_id = session.scalar(select(func.min(OutboxMessage.campaign_id)))
    client = app.test_client()
    assert log_in(client, email=STAFF, password="ett långt lösenord").status_code == 303
    answer(
        client.application.test_client(),
        links_for(app, w["anna"], w["meeting"])["rsvp_url"],
        answer="yes",
        comment=payload("kommentar"),
    )
    pages = {
        "/staff/": [],
        "/staff/organisations": [payload("org")],
        "/staff/organisations?q=" + urllib.parse.quote("<script>"): [],
        "/staff/organisations/hostile": [payload("namn"), payload("roll")],
        f"/staff/contacts/{w['anna']}": [payload("roll")],
        f"/staff/contacts/{w['anna']}/erase": [],
        "/staff/meetings": [],
        "/staff/meetings/falun/edit": [payload("beskrivning")],
        "/staff/meetings/falun/responses": [payload("namn"), payload("gäst"), payload("gästorg")],
        "/staff/meetings/falun/responses?org=" + urllib.parse.quote(payload("org")): [],
        "/staff/meetings/falun/checkin": [],
        "/staff/campaigns": [],
        f"/staff/campaigns/{campaign_id}": [],
        "/staff/campaigns/new": [],
        "/staff/templates": [],
    }
    for path, shown in pages.items():
        reply = client.get(path)
        assert reply.status_code == 200, path
        assert_inert_staff_page(reply.get_data(as_text=True), *shown)


def test_markup_and_template_syntax_are_inert_in_every_mail(app, db, hostile_world, smtp_server):
    w = hostile_world
    client = app.test_client()
    answer(client, links_for(app, w["anna"], w["meeting"])["rsvp_url"], answer="yes", comment=payload("kommentar"))
    answer(client, links_for(app, w["bo"], w["meeting"])["rsvp_url"], answer="yes")  # waitlisted
    answer(client, links_for(app, w["anna"], w["meeting"])["rsvp_url"], answer="no")  # Bo moves up
    with db.transaction() as session:
        meeting = session.get(Meeting, w["meeting"])
        check_in(session, meeting, ["anna@hostile.example.org"])
        thanks = service.create_campaign(
            session, w["settings"], w["templates"], meeting_slug="falun", template="thanks", audience=Audience(all=True)
        )
        service.start(session, thanks)
        send_digest(session, w["settings"])
        queue_org_report(session, w["settings"], org_report(session, "hostile", w["settings"].timezone))
    send_outbox(app, smtp_server.url)

    mails = {}
    for received in smtp_server.received:
        message = received.message
        kind = received.envelope_to[0] + ": " + str(message["Subject"])
        mails[kind] = message
        assert_one_line_headers(received.data)
        html = message.get_body(("html",)).get_content()
        plain = message.get_body(("plain",)).get_content()
        assert "1337" not in plain and "<class " not in plain and "1337" not in html
        assert "{{ 7*191 }}" in plain  # data is never template source: shown as written
        assert_inert(html)
        for part in message.iter_attachments():
            if part.get_content_type() == "text/calendar":
                (event,) = [c for c in Calendar.from_ical(part.get_payload(decode=True)).walk() if c.name == "VEVENT"]
                assert str(event["SUMMARY"]) == payload("titel")
    kinds = sorted(k.split(": ", 1)[0] + ": " + k.split(": ", 1)[1].split(":")[0] for k in mails)
    assert len(smtp_server.received) == 2 + 2 + 1 + 4 + 1 + 1, kinds  # invitations, reminders, thanks,
    # confirmations (Anna yes, Bo waitlisted, Anna no, Bo promoted), digest, org report

    def shown(address: str, subject_start: str, *values: str) -> None:
        """The values are in the mail's HTML as visible text (in the plain text too, unescaped, where it has them)."""
        (message,) = [m for k, m in mails.items() if k.startswith(f"{address}: {subject_start}")]
        assert_inert(message.get_body(("html",)).get_content(), *values)

    title = "<script>alert('titel')</script>"
    first_name = payload("namn").split(" ")[0]
    shown(
        "anna@hostile.example.org",
        "Inbjudan",
        title,
        first_name,
        "<script>alert('lokal')</script>",
        "<script>alert('beskrivning')</script>",
        "<script>alert('org')</script>",
    )
    shown("anna@hostile.example.org", "Har du hunnit svara", title, first_name)
    shown("anna@hostile.example.org", "Tack för dialogträffen", first_name)
    shown("anna@hostile.example.org", "Du är anmäld", title, first_name)
    shown("bo@hostile.example.org", "Du har fått en plats", title, payload("direkt").split(" ")[0])
    shown(STAFF, "Dialogträffar", title, "<script>alert('namn')</script>", "<script>alert('org')</script>")
    shown("kansli@hostile.example.org", "org<script>", "avvisad<script>alert(")  # in the reason, as repr()


def test_control_characters_in_an_evaluation_comment_are_dropped(app, db, person, make_meeting):
    meeting = make_meeting(slug="utv").id
    anna = person("anna@example.org", "Anna")
    with db.transaction() as session:
        check_in(session, session.get(Meeting, meeting), ["anna@example.org"])
    client = app.test_client()
    path = links_for(app, anna, meeting)["evaluation_url"]
    token = csrf_of(client.get(path).get_data(as_text=True))
    posted = client.post(
        path,
        data={
            "csrf_token": token,
            "value": "4",
            "knowledge": "4",
            "cooperation": "yes",
            "comment": "Bra\x00 träff\x1b[31m",
        },
    )
    assert posted.status_code == 303
    with db.transaction() as session:
        assert session.scalar(select(Evaluation.comment)) == "Bra träff[31m"


@pytest.mark.parametrize(
    "escape",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ '{0.__class__.__mro__}'.format(contact) }}",
        "{{ contact|attr('__class__') }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ self._TemplateReference__context }}",
        "{% set x = [] %}{{ x.append(1) }}",
        "{{ contact.update({'email': 'mallory@example.org'}) }}",
        "{% include '/etc/passwd' %}",
        "{% include '../../../../../etc/passwd' %}",
        "{{ range(10**7)|list|length }}",
    ],
)
def test_a_staff_template_cannot_escape_the_sandbox(tmp_path, escape):
    import shutil

    folder = tmp_path / "templates"
    shutil.copytree(packaged_templates_path(), folder)
    (folder / "sv" / "reminder.txt").write_text(
        "{% extends 'base.txt' %}{% block subject %}x{% endblock %}\n{% block content %}" + escape + "{% endblock %}",
        encoding="utf-8",
    )
    context = {
        "lang": "sv",
        "sender": {"name": "Ax", "email": "a@b.se"},
        "first_message": False,
        "unsubscribe_url": "u",
        "organisations": [],
        "contact": {"name": "A", "first_name": "A", "email": "a@b.se"},
    }
    with pytest.raises(TemplateProblem) as problem:
        EmailTemplates(folder).render("reminder", "sv", context)
    assert problem.value.template == "sv/reminder.txt" and problem.value.line == 2
    assert context["contact"]["email"] == "a@b.se"


# -- formulas in exports ------------------------------------------------------------------------------

FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(1;2)", "-2+3", "@SUM(A1:A2)", '=HYPERLINK("http://evil.example";"klick")']


def test_exports_never_run_a_formula_whatever_the_data_starts_with(
    app, db, runner, make_csv, make_meeting, person, tmp_path
):
    make_csv("organisations.csv", csv_text(["slug", "name"], ["formler", '=HYPERLINK("http://evil.example")']))
    path = make_csv(
        "formler.csv",
        csv_text(
            ["email", "name"],
            *[[f"p{i}@formler.example.org", value] for i, value in enumerate(FORMULAS)],
            ["=1+2@formler.example.org", "Ada"],
            ["+46701234567@formler.example.org", "Bea"],
        ),
    )
    assert runner.invoke(["contacts", "import", path]).exit_code == 0
    tabbed = person("tab@formler.example.org", "\t=1+1")  # straight into the table: tab and CR first
    carriage = person("cr@formler.example.org", "\r=1+1")
    meeting = make_meeting(slug="export").id
    client = app.test_client()
    with db.transaction() as session:
        everyone = list(session.scalars(select(Contact.id)))
        add_question(session, session.get(Meeting, meeting), label_sv=FORMULAS[0])  # a header staff wrote
    for i, contact in enumerate(everyone):
        answer(
            client,
            links_for(app, contact, meeting)["rsvp_url"],
            answer="yes",
            diet=FORMULAS[i % 5],
            accessibility=FORMULAS[(i + 1) % 5],
            comment=FORMULAS[(i + 2) % 5],
        )
    assert tabbed in everyone and carriage in everyone

    for delimiter in (";", ","):
        exported = tmp_path / f"svar{delimiter}.csv"  # (to stdout, click 8.3 warns: see the report)
        result = runner.invoke(["responses", "export", "export", "--delimiter", delimiter, "-o", exported])
        assert result.exit_code == 0
        table = list(csv.reader(io.StringIO(exported.read_text(encoding="utf-8-sig")), delimiter=delimiter))
        assert len(table) == 1 + len(everyone)
        assert "'" + FORMULAS[0] in table[0]
        cells = [cell for row in table for cell in row]
        assert not [cell for cell in cells if cell.startswith(FORMULA_START)]
        for value in FORMULAS + ["=1+2@formler.example.org", "+46701234567@formler.example.org"]:
            assert "'" + value in cells, value  # kept, readable, and inert
    xlsx = tmp_path / "svar.xlsx"
    assert runner.invoke(["responses", "export", "export", "--format", "xlsx", "-o", xlsx]).exit_code == 0
    sheet = load_workbook(xlsx).active
    cells = [cell for row in sheet.iter_rows(min_row=1) for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    values = {c.value for c in cells}
    assert set(FORMULAS) <= values and "=1+2@formler.example.org" in values

    with db.transaction() as session:  # the attendee rows themselves keep the data as it was given
        rows = attendee_rows(session, session.get(Meeting, meeting), app.extensions["mailer.settings"].timezone)
    assert {"\t=1+1", "\r=1+1"} <= {r[0] for r in rows}
    assert {"'\t=1+1", "'\r=1+1"} <= {
        row[0] for row in csv.reader(io.StringIO(to_csv(rows).decode("utf-8-sig")), delimiter=";")
    }


def test_the_export_to_standard_output_works(runner, make_meeting):
    make_meeting(slug="export")
    result = runner.invoke(["responses", "export", "export"])
    assert result.exit_code == 0 and result.stdout_bytes.startswith(b"\xef\xbb\xbf")


# -- hostile CSV files ----------------------------------------------------------------------------------


def test_hostile_csv_files_get_a_clear_error_and_change_nothing(runner, db, make_csv, tmp_path):
    first = make_csv("kor.csv", "email,name\nanna@kor.example.org,Anna\nbo@kor.example.org,Bo\n")
    assert runner.invoke(["contacts", "import", first]).exit_code == 0
    before = snapshot(db)
    folder = tmp_path / "hostile"
    folder.mkdir()

    def write(name: str, data: bytes) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    xlsx = io.BytesIO()
    from openpyxl import Workbook

    Workbook().save(xlsx)
    row = b"person@femtio.example.org,Person Persson,ledamot\n"  # 50 MB of honest-looking rows
    files = {
        "femtio.csv": ("file is larger than 50 MB", b"email,name,role\n" + row * (50 * 1024 * 1024 // len(row) + 1)),
        "bild.csv": (
            "not a CSV file (binary content)",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40,
        ),
        "kalkyl.csv": ("not a CSV file (binary content)", xlsx.getvalue()),
        "bred.csv": (
            "the header has 1000001 columns (at most 200)",
            b"email," + b",".join(b"c%d" % i for i in range(1_000_000)) + b"\nx@bred.example.org\n",
        ),
        "citat.csv": (
            "line 3: broken CSV quoting",
            b'email,name\na@citat.example.org,Ann"a\nb@citat.example.org,"Bo"x\n',
        ),
        "oavslutad.csv": (
            "broken CSV quoting (unexpected end of data)",
            b'email,name\na@oavslutad.example.org,"Anna\nb@oavslutad.example.org,B\n',
        ),
        "jattecell.csv": (
            "line 2: a cell is longer than 131072 characters",
            b"email,name\na@jattecell.example.org," + b"x" * 300_000 + b"\n",
        ),
        "utf16.csv": ("not a CSV file (binary content)", "email,name\na@utf.example.org,A\n".encode("utf-16")),
        "tom.csv": ("the file is empty", b"\xef\xbb\xbf\r\n\r\n"),
        "ingen-adress.csv": ("no email column", b"namn;telefon\nAnna;070\n"),
    }
    paths = [write(name, data) for name, (_, data) in files.items()]
    result = runner.invoke(["contacts", "import", *paths])
    assert result.exit_code == 2
    errors = {line.split(": ", 1)[0]: line for line in result.stderr.splitlines()}
    summaries = {line.split(": ", 1)[0]: line for line in result.stdout.splitlines()}
    for name, (reason, _) in files.items():
        assert reason in errors[str(folder / name)], (name, errors.get(str(folder / name)))
        assert summaries[name].startswith(f"{name}: not imported: ") and reason in summaries[name], name
    assert "Traceback" not in result.output
    assert snapshot(db) == before  # nothing from any of them, and the earlier list untouched


def test_a_wide_row_control_characters_and_late_nul_bytes_are_cleaned_not_fatal(runner, db, make_csv, tmp_path):
    wide = make_csv(
        "bredrad.csv", b"email,name\na@bredrad.example.org,Anna" + b"," * 1_000_000 + b"\nb@bredrad.example.org,Bo\n"
    )
    padding = b"".join(b"p%d@sen.example.org,Person %d\n" % (i, i) for i in range(400))  # past the first 8 KB
    late = make_csv(
        "sen.csv", b"email,name\n" + padding + "nul@sen.example.org,Ni\x00na\x1b[31m R\x07ed\u0085X\u009b\n".encode()
    )
    make_csv(
        "organisations.csv",
        b"slug,name,region\n"
        + b"".join(b"org%d,Org %d,\n" % (i, i) for i in range(600))
        + b"sen,Sen\x00a \x1b]0;titel\x07forbundet,Dalarna,extra,cells\n",
    )  # NUL past 8 KB, a row too long
    result = runner.invoke(["contacts", "import", wide, late])
    assert result.exit_code == 0, result.output
    listing = runner.invoke(["contacts", "list"])
    assert "\x1b" not in listing.output and "\x00" not in listing.output and "\x07" not in listing.output
    with db.transaction() as session:
        names = dict(session.execute(select(Contact.email, Contact.name)).all())
        org = session.scalar(select(Organisation.name).where(Organisation.slug == "sen"))
    assert names["a@bredrad.example.org"] == "Anna" and names["b@bredrad.example.org"] == "Bo"
    assert names["nul@sen.example.org"] == "Nina[31m Red X"
    assert names["p399@sen.example.org"] == "Person 399" and len(names) == 403
    assert org == "Sena ]0;titelforbundet"


def test_oversize_cells_are_cut_with_a_warning_and_oversize_meeting_fields_refused(runner, db, make_csv):
    """The columns have sizes (PostgreSQL enforces them): a longer cell must not fail the whole import."""
    make_csv("organisations.csv", csv_text(["slug", "name", "region"], ["lang", "Förbundet " * 100, "Län" * 100]))
    path = make_csv(
        "lang.csv",
        csv_text(
            ["email", "name", "role", "titel", "phone"],
            ["anna@lang.example.org", "Anna " * 1000, "R" * 500, "Tit" * 200, "0" * 500],
            ["a" * 300 + "@lang.example.org", "För lång adress", "", "", ""],
        ),
    )
    result = runner.invoke(["contacts", "import", path])
    assert result.exit_code == 1  # the over-long address is rejected; the rest is in
    for field, limit in (("name", 200), ("title", 200), ("role", 100), ("phone", 50)):
        assert f"{path}:2: warning: {field} longer than {limit} characters: cut" in result.stderr
    assert f"{path}:3: bad address" in result.stderr
    with db.transaction() as session:
        contact = session.scalar(select(Contact).where(Contact.email == "anna@lang.example.org"))
        assert (contact.name, contact.phone) == (("Anna " * 40).strip(), "0" * 50)
        assert (contact.memberships[0].role, contact.memberships[0].title) == ("R" * 100, ("Tit" * 67)[:200])
        organisation = session.scalar(select(Organisation).where(Organisation.slug == "lang"))
        assert (len(organisation.name), organisation.region) == (199, None)  # not a region: not stored
    before = snapshot(db)
    for option, limit in (("--title", 200), ("--region", 100), ("--city", 100), ("--host", 200), ("--venue", 300)):
        fields = {
            "--slug": "lang",
            "--title": "T",
            "--region": "Gotland",
            "--city": "C",
            "--starts": f"{YEAR}-05-06 18:00",
            option: "x" * (limit + 1),
        }
        result = runner.invoke(["meetings", "add", *[x for pair in fields.items() for x in pair]])
        assert result.exit_code == 1 and f"{option}: is longer than {limit} characters" in result.output, option
    assert snapshot(db) == before


def test_a_broken_organisations_file_beside_a_list_is_a_clear_error(runner, db, make_csv):
    make_csv("organisations.csv", b'slug,name\nkor,"' + b"x" * 200_000 + b'"\n')
    path = make_csv("kor.csv", "email\nanna@kor.example.org\n")
    result = runner.invoke(["contacts", "import", path])
    assert result.exit_code == 2
    assert "organisations.csv beside it cannot be read: line 2: field larger than field limit" in result.stderr
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 0


# -- dates out of range -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, error",
    [
        (["meetings", "add", "--starts", "9999-12-31 23:00"], "--starts: '9999-12-31 23:00' is out of range"),
        (["meetings", "add", "--starts", "0001-01-01 00:30"], "--starts: '0001-01-01 00:30' is out of range"),
        (
            ["meetings", "add", "--starts", f"{YEAR}-05-06 18:00", "--ends", "9999-12-31 23:59"],
            "--ends: '9999-12-31 23:59' is out of range",
        ),
        (
            ["meetings", "add", "--starts", f"{YEAR}-05-06 18:00", "--rsvp-by", "0001-01-01"],
            "--rsvp-by: '0001-01-01' is out of range",
        ),
        (["meetings", "add", "--starts", f"{YEAR}-02-30 18:00"], "is not a date and time"),
        (["meetings", "add", "--starts", "99999-01-01 18:00"], "is not a date and time"),
        (["meetings", "edit", "befintlig", "--starts", "9999-12-31 23:00"], "'9999-12-31 23:00' is out of range"),
        (
            [
                "campaigns",
                "create",
                "--meeting",
                "befintlig",
                "--template",
                "invitation",
                "--all",
                "--send-at",
                "0001-01-01 00:00",
            ],
            "'0001-01-01 00:00' is out of range",
        ),
        (
            [
                "campaigns",
                "create",
                "--meeting",
                "befintlig",
                "--template",
                "invitation",
                "--all",
                "--send-at",
                "9999-12-31 23:59",
            ],
            "'9999-12-31 23:59' is out of range",
        ),
    ],
)
def test_dates_out_of_range_are_a_clear_error_and_change_nothing(runner, db, make_csv, args, error):
    assert runner.invoke(["contacts", "import", make_csv("kor.csv", "email\na@kor.example.org\n")]).exit_code == 0
    assert (
        runner.invoke(
            [
                "meetings",
                "add",
                "--slug",
                "befintlig",
                "--title",
                "T",
                "--region",
                "Dalarna",
                "--city",
                "C",
                "--starts",
                f"{YEAR}-05-06 18:00",
            ]
        ).exit_code
        == 0
    )
    before = snapshot(db)
    if args[:2] == ["meetings", "add"]:
        args = args + ["--slug", "ny", "--title", "T", "--region", "Dalarna", "--city", "C"]
    result = runner.invoke(args)
    assert result.exit_code == 1, result.output
    assert error in result.output
    assert snapshot(db) == before


def test_a_board_report_to_the_end_of_time_is_a_clear_error(runner):
    result = runner.invoke(["report", "--from", f"{YEAR}-01-01", "--to", "9999-12-31"])
    assert result.exit_code == 2 and "--to" in result.output


def test_a_meeting_at_the_edges_of_the_range_works_everywhere(
    app, db, runner, person, make_meeting, smtp_server, tmp_path
):
    meeting = make_meeting(slug="sist", starts="2999-12-31 23:00", rsvp_by="2999-12-31").id
    anna = person("anna@example.org", "Anna")
    client = app.test_client()
    assert answer(client, links_for(app, anna, meeting)["rsvp_url"], answer="yes").status_code == 303
    assert client.get(links_for(app, anna, meeting)["calendar_url"]).status_code == 200
    send_outbox(app, smtp_server.url)
    assert "31 december 2999" in str(smtp_server.to("anna@example.org")[0].message["Subject"])
    listing = json.loads(runner.invoke(["meetings", "list", "--json"]).stdout)
    assert listing[0]["ends"].startswith("3000-01-01T01:00")
    assert runner.invoke(["meetings", "status", "sist"]).exit_code == 0
    assert (
        runner.invoke(["responses", "export", "sist", "--format", "xlsx", "-o", tmp_path / "sist.xlsx"]).exit_code == 0
    )


# -- strings that look like SQL ------------------------------------------------------------------------------

SQL = [
    "Robert'); DROP TABLE contacts;--",
    "x' OR '1'='1",
    "1; DELETE FROM responses WHERE 1=1; --",
    "\"; UPDATE contacts SET email='x'; --",
    "' UNION SELECT secret_key FROM config --",
]


def test_sql_looking_strings_are_stored_as_text_and_run_nothing(app, db, runner, make_csv, make_meeting):
    path = make_csv(
        "sql.csv",
        csv_text(
            ["email", "name", "role"], *[[f"o'brien{i}@sql.example.org", value, value] for i, value in enumerate(SQL)]
        ),
    )
    assert runner.invoke(["contacts", "import", path]).exit_code == 0
    meeting = make_meeting(slug="sql", title=SQL[0], venue=SQL[1]).id
    client = app.test_client()
    with db.transaction() as session:
        contacts = dict(session.execute(select(Contact.email, Contact.id)).all())
    for i, value in enumerate(SQL):
        posted = answer(
            client,
            links_for(app, contacts[f"o'brien{i}@sql.example.org"], meeting)["rsvp_url"],
            answer="yes",
            diet=value,
            comment=value,
        )
        assert posted.status_code == 303
    tables = set(inspect(db.engine).get_table_names())
    for args in (
        ["contacts", "list", "--org", SQL[1]],
        ["meetings", "status", SQL[1]],
        ["contacts", "revoke-links", SQL[1]],
        ["orgs", "report", SQL[0]],
    ):
        result = runner.invoke(args)
        assert result.exit_code == 1 and "Traceback" not in result.output, args
    listing = json.loads(runner.invoke(["contacts", "list", "--json"]).stdout)
    assert sorted(c["name"] for c in listing) == sorted(SQL)
    assert sorted(c["organisations"][0]["role"] for c in listing) == sorted(SQL)
    with db.transaction() as session:
        assert sorted(session.scalars(select(Response.comment))) == sorted(SQL)
        assert session.scalar(select(func.count()).select_from(ResponseChange)) == len(SQL)
        assert session.scalar(select(Meeting.title)) == SQL[0]
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == len(SQL)
    assert len(confirmations(db)) == len(SQL)
    assert set(inspect(db.engine).get_table_names()) == tables
