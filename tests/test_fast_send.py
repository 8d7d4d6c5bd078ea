"""The fast send path builds exactly the messages compose() builds.

Compared byte for byte after flattening, apart from what is random or the current time in
compose()'s message: the MIME boundaries, the Date header and the calendar's DTSTAMP.
"""

from __future__ import annotations

import re
from email import policy as email_policy

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from mailer.campaigns import service
from mailer.campaigns.audience import Audience
from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact, Membership
from mailer.mail.message import recipient_address, stable_message_id
from mailer.meetings.models import Meeting
from mailer.outbox.compose import compose
from mailer.outbox.fast import FastComposer
from mailer.mail.message import flatten
from mailer.outbox.mimeparts import BUILD_POLICY, fold_header
from mailer.outbox.models import OutboxMessage
from mailer.outbox.sender import Sender
from smtp_server import smtp_server  # noqa: F401  (fixture)

NAMES = ["Anna Andersson", "Björn Åström", "Andersson, Anna", 'Ann "Lillan" Berg', "Jean-Luc (kapten) Picard",
         "A" * 90, "Åsa " + "Ö" * 70, "O'Brien", "Zoë", "李小龙", "Mallory\r\nBcc: victim@example.org", ""]


def normalised(data: bytes) -> bytes:
    for boundary in set(re.findall(rb'boundary="([^"]+)"', data)):
        data = data.replace(boundary, b"BOUNDARY")
    data = re.sub(rb"\r\nDate: [^\r]*", b"\r\nDate: DATE", data)
    return re.sub(rb"DTSTAMP:\d{8}T\d{6}Z", b"DTSTAMP:STAMP", data)


def slow(app, contact, meeting, template, first, message_id, extra=None) -> bytes:
    message = compose(app.extensions["mailer.settings"], app.extensions["mailer.templates"], template=template,
                      contact=contact, meeting=meeting, first_message=first, message_id=message_id, extra=extra)
    return flatten(message)


@pytest.fixture
def contacts(db, make_csv):
    rows = "".join(f'p{i}@lista.example.org,"{name.replace(chr(34), chr(34) * 2)}",{"en" if i % 3 == 0 else "sv"}\n'
                   for i, name in enumerate(NAMES))
    rows += "åsa.öberg@lista.example.org,Åsa Öberg,sv\nzoë@lista.example.org,Zoë,en\n"  # need SMTPUTF8 headers
    other = "".join(f"p{i}@lista.example.org,,\n" for i in range(0, len(NAMES), 2))
    with db.transaction() as session:
        import_lists(session, [make_csv("teaterforbundet.csv", "email,name,language\n" + rows),
                               make_csv("korforbundet.csv", "email,name,language\n" + other)])
        return list(session.scalars(select(Contact).order_by(Contact.id).options(
            selectinload(Contact.memberships).selectinload(Membership.organisation))))


EXTRAS = {
    "invitation": [None], "reminder": [None], "thanks": [None], "information": [None],
    "confirmation": [{"response": {"answer": "yes", "guests": 1, "waitlisted": False, "promoted": False}},
                     {"response": {"answer": "yes", "guests": 0, "waitlisted": True, "promoted": False}},
                     {"response": {"answer": "yes", "guests": 0, "waitlisted": False, "promoted": True}},
                     {"response": {"answer": "no", "guests": 0, "waitlisted": False, "promoted": False}}],
}


@pytest.mark.parametrize("template", list(EXTRAS))
def test_every_message_is_what_compose_builds(app, contacts, make_meeting, template):
    meeting = make_meeting(slug="vasteras", title="Dialogträff i Västerås; med Region Västmanland",
                           city="Västerås", venue="Culturen, Västerås", host="Region Västmanland",
                           description="Fika från 17.30.\nVälkomna, alla!", capacity=40, rsvp_by="2031-05-01")
    composer = FastComposer(app.extensions["mailer.settings"], app.extensions["mailer.templates"], template, meeting)
    compared = 0
    for extra in EXTRAS[template]:
        for contact in contacts:
            for first in (True, False):
                message_id = stable_message_id(template, contact.id * 10 + first, "ax.example.org")
                fast = composer.build(contact, first, message_id, extra)
                assert fast is not None, contact.name
                assert normalised(fast) == normalised(slow(app, contact, meeting, template, first, message_id, extra))
                compared += 1
    assert composer.fast == compared and composer.slow == 0
    # The shipped templates pass the prerendering check: most messages were filled in, not rendered.
    assert composer.prerenders["sv"] is not None and composer.prerenders["en"] is not None
    assert sum(p.filled for p in composer.prerenders.values()) > compared / 3
    # Skeletons were made for both header policies (ASCII and UTF-8 addresses) and both languages.
    assert {(lang, utf8) for lang, utf8, _ in composer.skeletons} == {("sv", False), ("sv", True), ("en", False),
                                                                      ("en", True)}


def test_a_link_the_calendar_would_escape_goes_the_slow_way(app, contacts, make_meeting):
    settings = app.extensions["mailer.settings"].with_overrides(base_url="https://mailer.example.org/a,b")
    meeting = make_meeting(slug="gavle")
    composer = FastComposer(settings, app.extensions["mailer.templates"], "invitation", meeting)
    assert composer.build(contacts[0], True, "<invitation.1@ax.example.org>") is None
    assert composer.slow == 1


@hypothesis_settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(st.characters(blacklist_categories=["Cs"]), max_size=90),
       local=st.from_regex(r"[a-z0-9][a-z0-9.+_-]{0,40}[a-z0-9]", fullmatch=True),
       subject=st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=200),
       token=st.from_regex(r"[A-Za-z0-9_.-]{20,160}", fullmatch=True))
def test_headers_fold_exactly_as_the_email_package_folds_them(name, local, subject, token):
    to = str(recipient_address(name, f"{local}@lista.example.org"))
    for policy in (email_policy.SMTP, email_policy.SMTPUTF8):
        for header, value in (("To", to), ("Subject", " ".join(subject.split()) or "x"),
                              ("Subject", f"https://mailer.example.org/u/{token}")):  # one long word
            expected = policy.fold_binary(header, BUILD_POLICY.header_factory(header, value))
            assert fold_header(header, value, policy) == expected


@hypothesis_settings(max_examples=600, deadline=None)
@given(words=st.lists(st.from_regex(r"[A-Za-z0-9ÅÄÖåäöÉéÜüØøÆæÑñŁłčž×-]{1,14}", fullmatch=True), min_size=1,
                      max_size=6),
       local=st.from_regex(r"[a-z0-9][a-z0-9.+_-]{0,30}[a-z0-9]", fullmatch=True))
def test_names_of_plain_words_fold_exactly_as_the_email_package_folds_them(words, local):
    """The common case, names like "Åsa Öberg-Lind", which fold_header encodes itself."""
    to = str(recipient_address(" ".join(words), f"{local}@lista.example.org"))
    for policy in (email_policy.SMTP, email_policy.SMTPUTF8):
        expected = policy.fold_binary("To", BUILD_POLICY.header_factory("To", to))
        assert fold_header("To", to, policy) == expected



def test_what_the_sender_sends_is_what_compose_builds(app, db, settings, contacts, make_meeting, smtp_server):
    meeting = make_meeting(slug="orebro", title="Dialogträff i Örebro", city="Örebro")
    templates = app.extensions["mailer.templates"]
    with db.transaction() as session:
        campaign = service.create_campaign(session, settings, templates, meeting_slug=meeting.slug,
                                           template="invitation", audience=Audience(all=True))
        service.start(session, campaign)
    sender = Sender(db, settings.with_overrides(smtp_url=smtp_server.url, send_rate_per_minute=60_000), templates)
    try:
        while sender.run_once().claimed:
            pass
    finally:
        sender.close()
    assert sum(c.fast for c in sender.composers.values()) == len(contacts)  # none needed the slow path
    assert len(smtp_server.received) == len(contacts)
    with db.transaction() as session:
        for row in session.scalars(select(OutboxMessage).options(
                selectinload(OutboxMessage.contact).selectinload(Contact.memberships)
                .selectinload(Membership.organisation))):
            (received,) = smtp_server.to(row.contact.email)
            expected = slow(app, row.contact, session.get(Meeting, meeting.id), "invitation", True,
                            received.message["Message-ID"])
            assert received.message["Message-ID"] == stable_message_id("invitation", row.id, "ax.example.org")
            assert normalised(received.data) == normalised(expected)
            assert row.state.value == "sent"
            if row.contact.email.isascii():  # å, ä, ö in names as encoded words: no SMTPUTF8 server needed
                assert received.data.split(b"\r\n\r\n", 1)[0].isascii()
            # RFC 8058 / RFC 2369: the link itself on the wire, never RFC 2047 encoded words.
            assert re.search(rb"\r\nList-Unsubscribe: <https?://[^\s>]+/u/[^\s>]+>\r\n", received.data)


def test_a_template_edited_during_a_send_is_noticed(app, contacts, make_meeting, tmp_path):
    """A composer lives across batches; editing a template (or base.html) retires it."""
    import os
    import shutil

    from mailer.mail.templates import EmailTemplates, packaged_templates_path

    folder = tmp_path / "templates"
    shutil.copytree(packaged_templates_path(), folder)
    templates = EmailTemplates(folder)
    composer = FastComposer(app.extensions["mailer.settings"], templates, "invitation", make_meeting(slug="lund"))
    assert composer.build(contacts[1], True, "<invitation.1@ax.example.org>") is not None
    assert composer.up_to_date()
    base = folder / "base.html"
    os.utime(base, (base.stat().st_atime, base.stat().st_mtime + 10))
    assert not composer.up_to_date()


@hypothesis_settings(max_examples=500, deadline=None)
@given(text=st.text(st.characters(blacklist_categories=["Cs"]), max_size=200))
def test_quoted_printable_lines_are_what_the_email_package_makes(text):
    """qp_body's shortcut for short lines agrees with quoprimime.body_encode on any line."""
    from email import quoprimime

    from mailer.outbox.mimeparts import MAX_LINE, _qp_line

    for line in text.encode("utf-8").splitlines():
        expected = quoprimime.body_encode(line.decode("latin-1"), MAX_LINE).replace("\n", "\r\n").encode("ascii")
        assert _qp_line(line) == expected



@pytest.mark.parametrize("edit", ["{{ contact.first_name|upper }}", "{% if contact.name == 'Anna Andersson' %}VIP{% endif %}",
                                  "{{ rsvp_url[:20] }}", "{% set n = contact.name %}{{ n }}"])
def test_a_template_that_does_more_than_print_a_personal_value_is_rendered_for_each_message(
        app, contacts, make_meeting, tmp_path, edit):
    """Prerendering needs personal values printed as they are; anything else renders per message."""
    import shutil

    from mailer.mail.templates import EmailTemplates, packaged_templates_path

    folder = tmp_path / "templates"
    shutil.copytree(packaged_templates_path(), folder)
    text = folder / "sv" / "invitation.txt"
    text.write_text(text.read_text(encoding="utf-8").replace("Hej!{% endif %}", "Hej!{% endif %} " + edit),
                    encoding="utf-8")
    settings = app.extensions["mailer.settings"].with_overrides(templates_path=folder)
    templates = EmailTemplates(folder)
    meeting = make_meeting(slug="lund")
    composer = FastComposer(settings, templates, "invitation", meeting)
    for contact in contacts:
        message_id = stable_message_id("invitation", contact.id, "ax.example.org")
        fast = composer.build(contact, True, message_id)
        message = compose(settings, templates, template="invitation", contact=contact, meeting=meeting,
                          first_message=True, message_id=message_id)
        assert normalised(fast) == normalised(flatten(message))
    assert composer.prerenders["sv"] is None


def test_prerendering_turns_itself_off_when_a_filled_message_differs_from_its_render():
    """The last safety net: a template whose output the static check misjudged is caught by
    comparing filled messages with full renders, and is rendered in full from then on."""
    from mailer.outbox.prerender import Prerender, finish

    def render(context):  # prints the name reversed: filling in the name cannot reproduce that
        name = context["contact"]["name"]
        return f"Hej {name}", f"Hej {name[::-1]}", f"<p>{name}</p>"

    prerender = Prerender(render, ["contact.name"])
    people = [{"contact": {"name": name}, "lang": "sv"} for name in ("Anna Berg", "Björn Ek", "Cecilia Dahl")]
    results = [prerender(context) for context in people]
    # The first is checked at once and comes back rendered in full; then None: "render it yourself".
    assert results == [finish(*render(people[0])), None, None]
    assert not prerender.on
