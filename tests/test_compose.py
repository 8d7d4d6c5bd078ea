"""Every message goes through one path (mail/compose.py + mail/message.py): what it puts on
the wire, checked by reading it back with the email package, as a mail program would.

Addresses and encodings (issue 14.4): domains as IDNA2008 A-labels, 7-bit parts for any
server, RFC 2047 headers unless the transaction uses SMTPUTF8, and a non-ASCII local part
refused with a reason where the server lacks SMTPUTF8. Message-IDs (issue 14.5): random,
at the From domain, stored on the outbox row and reused by its retries.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from mailer.campaigns import service
from mailer.campaigns.audience import Audience
from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact, Membership, Suppression
from mailer.mail.compose import Composer
from mailer.mail.message import build_message, parsed, wire_address
from mailer.mail.templates import Rendered
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.worker.sender import Sender

NAMES = [
    "Anna Andersson",
    "Björn Åström",
    "Andersson, Anna",
    'Ann "Lillan" Berg',
    "Jean-Luc (kapten) Picard",
    "A" * 90,
    "Åsa " + "Ö" * 70,
    "O'Brien",
    "Zoë",
    "李小龙",
    "Mallory\r\nBcc: victim@example.org",
    "",
]
SENDER = parsed(b"From: Ax <info@ax.example.org>\r\n\r\n")["From"].addresses[0]


def same_name(shown: str, name: str | None) -> bool:
    """The name as written, apart from spaces: CPython's address parser keeps the space between
    two encoded words of a long folded name, which RFC 2047 (6.2) says a reader drops."""
    return "".join(shown.split()) == "".join((name or "").split())


def import_people(db, make_csv, rows: str) -> list[Contact]:
    with db.transaction() as session:
        import_lists(session, [make_csv("teaterforbundet.csv", "email,name,language\n" + rows)])
        return list(
            session.scalars(
                select(Contact)
                .order_by(Contact.id)
                .options(selectinload(Contact.memberships).selectinload(Membership.organisation))
            )
        )


@pytest.fixture
def contacts(db, make_csv):
    rows = "".join(
        f'p{i}@lista.example.org,"{name.replace(chr(34), chr(34) * 2)}",{"en" if i % 3 == 0 else "sv"}\n'
        for i, name in enumerate(NAMES)
    )
    return import_people(db, make_csv, rows + "anna@straße.se,Anna Straße,sv\n")


def send_campaign(app, db, settings, meeting, server_url: str, template: str = "invitation") -> None:
    templates = app.extensions["mailer.templates"]
    with db.transaction() as session:
        campaign = service.create_campaign(
            session, settings, templates, meeting_slug=meeting.slug, template=template, audience=Audience(all=True)
        )
        service.start(session, campaign)
    send_all(db, settings.with_overrides(smtp_url=server_url, send_rate_per_minute=60_000), templates)


def send_all(db, settings, templates, delays: tuple[int, ...] | None = None) -> None:
    sender = Sender(db, settings, templates, delays=delays)
    try:
        while sender.run_once().claimed:
            pass
    finally:
        sender.close()


def rows(db) -> list[OutboxMessage]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .order_by(OutboxMessage.id)
                .options(
                    selectinload(OutboxMessage.contact)
                    .selectinload(Contact.memberships)
                    .selectinload(Membership.organisation)
                )
            )
        )


def test_what_the_sender_sends_is_what_the_templates_render(app, db, settings, contacts, make_meeting, smtp_server):
    meeting = make_meeting(
        slug="orebro",
        title="Dialogträff i Örebro; med Region Örebro län",
        city="Örebro",
        description="Fika från 17.30.\nVälkomna, alla!",
    )
    send_campaign(app, db, settings, meeting, smtp_server.url)
    composer = Composer(settings, app.extensions["mailer.templates"], "invitation", meeting)
    sent = rows(db)
    assert len(smtp_server.received) == len(contacts) == len(sent)
    for row in sent:
        assert row.state is MessageState.SENT
        (received,) = smtp_server.to(wire_address(row.contact.email))
        message = received.message
        rendered, context = composer.render(row.contact, True)
        assert message["Subject"] == rendered.subject
        assert same_name(message["To"].addresses[0].display_name, row.contact.name)
        assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == rendered.text
        html = message.get_body(("html",)).get_content().replace("\r\n", "\n")
        assert html.rstrip("\n") == rendered.html.replace("\r\n", "\n").rstrip("\n")  # a part ends with a line end
        (ics,) = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
        assert ics.get_filename() == ("traff.ics" if context["lang"] == "sv" else "meeting.ics")
        calendar = ics.get_content()
        assert "SUMMARY:Dialogträff i Örebro\\; med Region Örebro län" in calendar
        assert context["rsvp_url"] in re.sub(r"\r\n ", "", calendar)  # the recipient's own link, unfolded
        # RFC 8058 / RFC 2369: the link itself on the wire, never RFC 2047 encoded words.
        assert f"\r\nList-Unsubscribe: <{context['unsubscribe_url']}>\r\n".encode() in received.data
        # ASCII addresses: å, ä, ö in names and subject as encoded words, every part 7-bit.
        assert received.data.isascii() and "SMTPUTF8" not in received.mail_options
        assert max(len(line) for line in received.data.split(b"\r\n")) <= 998


def test_a_domain_goes_on_the_wire_as_idna2008_a_labels(app, db, settings, contacts, make_meeting, smtp_server):
    """straße.se is xn--strae-oqa.se (IDNA2008), never strasse.se (IDNA2003's mapping)."""
    send_campaign(app, db, settings, make_meeting(slug="falun"), smtp_server.url)
    assert wire_address("anna@straße.se") == "anna@xn--strae-oqa.se"
    (received,) = smtp_server.to("anna@xn--strae-oqa.se")
    assert received.envelope_to == ["anna@xn--strae-oqa.se"]
    assert received.message["To"].addresses[0].addr_spec == "anna@xn--strae-oqa.se"
    assert not [a for a in smtp_server.recipients() if "strasse" in a]


def test_a_server_without_8bitmime_gets_7bit_parts_only(app, db, settings, contacts, make_meeting, smtp_server):
    smtp_server.script.eightbitmime = False
    meeting = make_meeting(
        slug="gavle",
        title="Träff i Gävle",
        venue="Gävle konserthus, Älvsalen",
        host="Region Gävleborg",
        description="Kaffe och smörgås från 17.30.",
    )
    send_campaign(app, db, settings, meeting, smtp_server.url)
    assert len(smtp_server.received) == len(contacts)
    for received in smtp_server.received:
        assert received.data.isascii()  # headers, text, HTML and the .ics part alike
        message = received.message
        for part in message.walk():
            if not part.is_multipart():
                assert part["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
        (ics,) = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
        assert "LOCATION:Gävle konserthus\\, Älvsalen" in ics.get_content()


def test_a_non_ascii_local_part_needs_a_server_with_smtputf8(app, db, settings, make_csv, make_meeting, smtp_server):
    """Without SMTPUTF8 only that recipient is refused, with a reason, and not suppressed."""
    import_people(db, make_csv, "åsa@exempel.se,Åsa Öberg,sv\nbo@exempel.se,Bo Ek,sv\n")
    smtp_server.script.smtputf8 = False
    send_campaign(app, db, settings, make_meeting(slug="lulea"), smtp_server.url)
    assert smtp_server.recipients() == ["bo@exempel.se"]
    by_email = {row.contact.email: row for row in rows(db)}
    refused = by_email["åsa@exempel.se"]
    assert refused.state is MessageState.FAILED and "SMTPUTF8" in refused.last_error
    assert "åsa@exempel.se" in refused.last_error
    assert by_email["bo@exempel.se"].state is MessageState.SENT
    with db.transaction() as session:
        assert session.scalars(select(Suppression)).all() == []  # the address is not to blame


def test_with_smtputf8_the_headers_are_utf8_and_only_then(app, db, settings, make_csv, make_meeting, smtp_server):
    import_people(db, make_csv, "åsa@exempel.se,Åsa Öberg,sv\nbo@exempel.se,Bo Ek,sv\n")
    send_campaign(app, db, settings, make_meeting(slug="ostersund"), smtp_server.url)
    (utf8,) = smtp_server.to("åsa@exempel.se")
    assert "SMTPUTF8" in utf8.mail_options
    head = utf8.data.split(b"\r\n\r\n", 1)[0]
    assert "To: Åsa Öberg <åsa@exempel.se>".encode() in head
    assert all(
        part["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
        for part in utf8.message.walk()
        if not part.is_multipart()
    )
    (plain,) = smtp_server.to("bo@exempel.se")
    assert plain.data.isascii() and "SMTPUTF8" not in plain.mail_options


def test_message_ids_are_random_at_the_from_domain_and_stored(app, db, settings, contacts, make_meeting, smtp_server):
    send_campaign(app, db, settings, make_meeting(slug="eskilstuna"), smtp_server.url)
    sent = rows(db)
    ids = [row.message_id for row in sent]
    assert len(set(ids)) == len(ids) == len(contacts)
    for row in sent:
        assert re.fullmatch(r"<[0-9a-f]{32}@ax\.example\.org>", row.message_id)
        (received,) = smtp_server.to(wire_address(row.contact.email))
        assert received.message["Message-ID"] == row.message_id


def test_a_retry_of_a_row_reuses_its_stored_message_id(app, db, settings, make_csv, make_meeting, smtp_server):
    import_people(db, make_csv, "anna@exempel.se,Anna Berg,sv\n")
    smtp_server.reply("anna@exempel.se", "452 4.2.2 mailbox full, try again later", "250 OK")
    templates = app.extensions["mailer.templates"]
    meeting = make_meeting(slug="goteborg")
    with db.transaction() as session:
        campaign = service.create_campaign(
            session, settings, templates, meeting_slug=meeting.slug, template="invitation", audience=Audience(all=True)
        )
        service.start(session, campaign)
    smtp_settings = settings.with_overrides(smtp_url=smtp_server.url, send_rate_per_minute=60_000)
    send_all(db, smtp_settings, templates, delays=(0,))  # the retry is due at once
    (row,) = rows(db)
    assert row.state is MessageState.SENT and row.attempts == 2
    (received,) = smtp_server.received
    assert received.message["Message-ID"] == row.message_id


# -- the message builder on its own: whatever the data, the email package reads back what was meant --
@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.text(st.characters(blacklist_categories=["Cs"]), max_size=120),
    local=st.from_regex(r"[a-z0-9][a-z0-9.+_-]{0,40}[a-z0-9]", fullmatch=True),
    subject=st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=200),
    text=st.text(st.characters(blacklist_categories=["Cs", "Cc"]) | st.sampled_from("\n\t"), max_size=400),
)
def test_any_name_subject_and_text_read_back_as_written(name, local, subject, text):
    assume("=?" not in name + subject)  # the email package decodes what looks like an encoded word, by design
    rendered = Rendered(subject=subject, text=text, html=f"<p>{text}</p>")
    data = build_message(
        rendered,
        SENDER,
        name,
        f"{local}@lista.example.org",
        "<x@ax.example.org>",
        unsubscribe_url="https://mailer.example.org/u/abc",
    )
    assert data.isascii()  # an ASCII address: no SMTPUTF8 needed, whatever the name and subject
    message = parsed(data)
    for header in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe"):
        assert len(message.get_all(header)) == 1, header
    assert not message.defects and not [p for p in message.walk() if p.defects]
    assert same_name(message["To"].addresses[0].display_name, name)
    assert message["To"].addresses[0].addr_spec == f"{local}@lista.example.org"
    assert message["Subject"] == " ".join(subject.split())
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # line ends as on the wire
    assert body == expected + ("\n" if expected and not expected.endswith("\n") else "")


def test_a_template_edited_while_a_worker_runs_is_used_from_the_next_batch(app, tmp_path):
    """The sender renders without Jinja's per-render file check; an edit is noticed per batch."""
    import os
    import shutil

    from mailer.mail.templates import EmailTemplates, packaged_templates_path

    folder = tmp_path / "templates"
    shutil.copytree(packaged_templates_path(), folder)
    templates = EmailTemplates(folder)
    first = templates.for_sending()
    assert templates.for_sending() is first  # nothing changed: the same compiled templates
    footer = folder / "sv" / "footer.txt"
    footer.write_text(footer.read_text(encoding="utf-8") + "\nNy rad i sidfoten.\n", encoding="utf-8")
    os.utime(footer, ns=(footer.stat().st_atime_ns, footer.stat().st_mtime_ns + 10**9))  # a later edit
    second = templates.for_sending()
    assert second is not first
    context = {
        "lang": "sv",
        "unsubscribe_url": "https://x/u/1",
        "first_message": True,
        "organisations": [],
        "sender": {"name": "Ax", "email": "info@ax.example.org"},
    }
    assert "Ny rad i sidfoten." in second.env.get_template("sv/footer.txt").render(context)
