"""The digest tells the week: every section filled from a real week's data, in both languages and
both parts, and an erased person counted but never shown."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from sqlalchemy import select

from mailer.campaigns.models import Campaign, CampaignState
from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact, SuppressionReason
from mailer.contacts.subscriptions import suppress
from mailer.db import utcnow
from mailer.digest.build import current_period, digest_context
from mailer.mail.replies import explain_reply, reply_kind
from mailer.meetings.models import Meeting
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.privacy.erasure import forget
from mailer.rsvp.service import record_answer

KOR = (
    "email,namn,roll\nanna@kor.example.org,Anna Andersson,ledamot\nbengt@kor.example.org,Bengt Berg,\n"
    "cecilia@kor.example.org,Cecilia Carlsson,\ndavid@kor.example.org,David Dahl,\n"
    "erik@kor.example.org,Erik Ek,\n"
)
DANS = "mejladress,namn\nfrida@dans.example.org,Frida Falk\ngustav@dans.example.org,Gustav Grön\n"
BOUNCE = "550 5.1.1 <gustav@dans.example.org>: Recipient address rejected: User unknown in virtual mailbox table"


@pytest.fixture
def week(db, settings, make_csv, make_meeting):
    """A week at an office: a round sent, answers, a change of mind, a waitlist, failures, bounces."""
    now = utcnow()
    with db.transaction() as session:
        import_lists(session, [make_csv("kor.csv", KOR), make_csv("dans.csv", DANS)])
    local = (now + dt.timedelta(days=9)).astimezone(settings.timezone)
    meeting = make_meeting(
        slug="falun",
        title="Dialogträff med Region Dalarna",
        region="Dalarna",
        city="Falun",
        starts=local.strftime("%Y-%m-%d 18:00"),
        capacity=2,
        max_guests=1,
        rsvp_by=(local.date() - dt.timedelta(days=3)).isoformat(),
    )
    with db.transaction() as session:
        people = {c.email.split("@")[0]: c for c in session.scalars(select(Contact))}
        campaign = Campaign(
            meeting_id=meeting.id,
            template="invitation",
            audience={"all": True},
            state=CampaignState.FINISHED,
            created_at=now - dt.timedelta(days=5),
        )
        session.add(campaign)
        session.flush()
        for name, contact in people.items():
            state = {"david": MessageState.FAILED, "erik": MessageState.RETRYING}.get(name, MessageState.SENT)
            error = {"david": "451 4.3.0 Temporary lookup failure", "erik": "421 4.7.0 Try again later"}.get(name)
            session.add(
                OutboxMessage(
                    campaign_id=campaign.id,
                    contact_id=contact.id,
                    meeting_id=meeting.id,
                    template="invitation",
                    to_email=contact.email,
                    state=state,
                    last_error=error,
                    sent_at=now - dt.timedelta(days=4) if state is MessageState.SENT else None,
                )
            )
        stored = session.get(Meeting, meeting.id)
        tz = settings.timezone
        for name, days in (("anna", 3), ("bengt", 2.9), ("cecilia", 2), ("david", 1.9), ("frida", 1.8)):
            record_answer(session, people[name], stored, {"answer": "yes"}, tz, now=now - dt.timedelta(days=days))
        # Anna changes her mind: her place goes to Cecilia, first on the waiting list.
        record_answer(session, people["anna"], stored, {"answer": "no"}, tz, now=now - dt.timedelta(days=1))
        suppress(session, "gustav@dans.example.org", SuppressionReason.BOUNCED, detail=BOUNCE)
        suppress(session, "bengt@kor.example.org", SuppressionReason.UNSUBSCRIBED)
        forget(session, "frida@dans.example.org")  # she answered: counted, never shown
    return meeting


def context_of(db, settings, lang="sv"):
    with db.transaction() as session:
        start, end = current_period(session)
        return digest_context(session, settings.with_overrides(language=lang), start, end)


def test_every_section_tells_the_week(db, settings, week):
    digest = context_of(db, settings)["digest"]

    (meeting,) = digest["meetings"]
    assert (meeting["capacity"], meeting["yes"], meeting["guests"], meeting["places_left"]) == (2, 2, 0, 0)
    assert [r["name"] for r in meeting["new_responses"]] == [
        "Anna Andersson",
        "Bengt Berg",
        "Cecilia Carlsson",
        "David Dahl",
    ]
    assert meeting["new_responses_erased"] == 1 and meeting["chart"]
    (round_,) = digest["sent"]["rounds"]
    assert (round_["template"], round_["sent"], round_["meeting"]) == (
        "invitation",
        5,
        "Dialogträff med Region Dalarna",
    )
    # Anna changed her mind, which gave Cecilia her place from the waiting list.
    assert [(c["name"], c["change"], c["organisations"]) for c in digest["answer_changes"]["changes"]] == [
        ("Anna Andersson", "yes_to_no", "Kor"),
        ("Cecilia Carlsson", "off_waitlist", "Kor"),
    ]
    (waiting,) = digest["waitlists"]
    assert [p["name"] for p in waiting["people"]] == ["David Dahl"] and waiting["erased"] == 1
    (problems,) = digest["delivery_problems"]["groups"]
    assert (problems["failed"], problems["retrying"]) == (1, 1)
    assert {m["name"]: m["explanation"] for m in problems["messages"]} == {
        "David Dahl": explain_reply("451 4.3.0", "sv", final=True),
        "Erik Ek": explain_reply("421 4.7.0", "sv"),
    }
    assert problems["messages"][0]["explanation"].startswith("Mottagarens server svarade med tillfälliga fel")
    (bounced,) = digest["bounces"]["by_organisation"]
    assert bounced["organisation"] == "Dans" and bounced["people"][0]["name"] == "Gustav Grön"
    assert bounced["people"][0]["explanation"].startswith("Adressen finns inte")
    assert digest["unsubscribes"]["by_organisation"] == [
        {"organisation": "Kor", "people": [{"name": "Bengt Berg", "email": "bengt@kor.example.org"}]}
    ]
    (deadline,) = digest["deadlines"]
    assert deadline["meeting"] == "Dialogträff med Region Dalarna" and deadline["days_left"] in (5, 6)
    (coming,) = digest["coming_meetings"]
    assert (coming["places_left"], coming["waitlisted"]) == (0, 2)  # the erased person still waits, unnamed


@pytest.mark.parametrize(
    "lang, words",
    [
        (
            "sv",
            [
                "Skickat den här veckan",
                "Inbjudan – Dialogträff med Region Dalarna: 5 mejl",
                "från ja till nej",
                "fick plats från väntelistan",
                "Väntar på plats",
                "1 misslyckade, 1 försöks igen",
                "Adressen finns inte",
                "Dans:",
                "Avregistreringar",
                "Sista svarsdag",
                "Platser kvar: 0 av 2",
                "1 raderad person (visas inte)",
                "0 platser kvar",
            ],
        ),
        (
            "en",
            [
                "Sent this week",
                "Invitation – Dialogträff med Region Dalarna: 5 emails",
                "from yes to no",
                "got a place from the waiting list",
                "Waiting for a place",
                "1 failed, 1 being retried",
                "The address does not exist",
                "Dans:",
                "Unsubscribes",
                "Answer deadlines",
                "Places left: 0 of 2",
                "1 erased person (not shown)",
                "0 places left",
            ],
        ),
    ],
)
def test_both_parts_in_both_languages_and_never_the_erased(db, app, settings, week, lang, words):
    context = context_of(db, settings, lang)
    rendered = app.extensions["mailer.templates"].render("digest", lang, context)
    shown = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", rendered.html)).replace(":", "").split())
    for word in words:
        assert word in rendered.text, word
        assert word.replace(":", "") in shown, word
    for part in (rendered.text, rendered.html):
        assert "Frida Falk" not in part and "frida@" not in part and "erased.invalid" not in part
        assert "Cecilia Carlsson" in part and "Gustav Grön" in part
    assert 'bgcolor="#1d6b45"' in rendered.html  # the chart's bars, as Outlook draws them


@pytest.mark.parametrize(
    "reply, kind",
    [
        ("550 5.1.1 User unknown", "no_such_user"),
        ("550 5.1.2 Host unknown", "no_such_domain"),
        ("552 5.2.2 Mailbox full", "mailbox_full"),
        ("452 4.2.2 Over quota", "mailbox_full"),
        ("550 5.2.1 Mailbox disabled", "mailbox_disabled"),
        ("554 5.7.1 Message rejected as spam", "refused"),
        ("552 5.3.4 Message too big", "too_large"),
        ("421 4.7.0 Try again later", "temporary"),
        ("timed out", "unreachable"),
        ("550 No such user here", "no_such_user"),
        ("something odd", "unknown"),
        (None, "unknown"),
    ],
)
def test_every_reply_gets_an_explanation_in_both_languages(reply, kind):
    assert reply_kind(reply) == kind
    assert explain_reply(reply, "sv") != explain_reply(reply, "en")
    assert explain_reply(reply, "sv", final=True) != explain_reply(reply, "en", final=True)
