"""Status and digest for one meeting with 100,000 invited and 1,000,000 response history rows.

The data is written straight into a fresh SQLite database with bulk inserts (22 organisations,
100,000 contacts, an invitation round of 100,000 sent messages, 60,000 answers with 1,000,000
history rows over eight weeks, 70,000 opened links); then the meeting status
(tracking.figures.meeting_status) and the weekly digest's content (digest.build.digest_context)
are timed, best of three, in milliseconds.

Usage: python bench/status.py [INVITED] [HISTORY]
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Instance, meeting_day, workspace  # noqa: E402


def fill(db, settings, invited: int, history: int) -> int:
    from sqlalchemy import insert

    from mailer.campaigns.models import Campaign, CampaignState
    from mailer.contacts.models import Contact, Membership, Organisation
    from mailer.meetings.service import add_meeting
    from mailer.outbox.models import MessageState, OutboxMessage
    from mailer.rsvp.models import Answer, LinkOpen, Response, ResponseChange

    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC)
    with db.transaction() as session:
        meeting = add_meeting(
            session,
            settings.timezone,
            slug="stor",
            title="Stor dialogträff",
            region="Stockholm",
            city="Stockholm",
            starts=f"{meeting_day().isoformat()} 18:00",
        )
        campaign = Campaign(
            meeting_id=meeting.id,
            template="invitation",
            audience={"all": True},
            state=CampaignState.FINISHED,
            started_at=now,
            finished_at=now,
        )
        session.add(campaign)
        session.flush()
        session.execute(
            insert(Organisation),
            [{"slug": f"org-{i}", "name": f"Förbund {i}", "region": "Stockholm", "created_at": now} for i in range(22)],
        )
        session.execute(
            insert(Contact),
            [
                {
                    "email": f"p{i}@example.org",
                    "name": f"Person {i}",
                    "link_key": f"{i:032d}",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(invited)
            ],
        )
        session.execute(
            insert(Membership),
            [{"contact_id": i + 1, "organisation_id": i % 22 + 1, "created_at": now} for i in range(invited)],
        )
        session.execute(
            insert(OutboxMessage),
            [
                {
                    "campaign_id": campaign.id,
                    "contact_id": i + 1,
                    "meeting_id": meeting.id,
                    "template": "invitation",
                    "to_email": f"p{i}@example.org",
                    "state": MessageState.SENT,
                    "attempts": 1,
                    "next_attempt_at": now,
                    "created_at": now,
                    "sent_at": now,
                    "uncertain": False,
                }
                for i in range(invited)
            ],
        )
        answered = invited * 6 // 10
        session.execute(
            insert(Response),
            [
                {
                    "meeting_id": meeting.id,
                    "contact_id": i + 1,
                    "answer": Answer.YES if i % 3 else Answer.NO,
                    "waitlisted": False,
                    "guests": i % 2,
                    "created_at": now - dt.timedelta(days=56),
                    "updated_at": now - dt.timedelta(minutes=rng.randrange(56 * 24 * 60)),
                }
                for i in range(answered)
            ],
        )
        session.execute(
            insert(LinkOpen),
            [
                {"meeting_id": meeting.id, "contact_id": i + 1, "first_at": now, "last_at": now, "count": 1}
                for i in range(invited * 7 // 10)
            ],
        )
        for start in range(0, history, 100_000):
            session.execute(
                insert(ResponseChange),
                [
                    {
                        "response_id": rng.randrange(answered) + 1,
                        "answer": Answer.YES if j % 2 else Answer.NO,
                        "waitlisted": False,
                        "guests": 0,
                        "at": now - dt.timedelta(minutes=rng.randrange(56 * 24 * 60)),
                    }
                    for j in range(start, min(history, start + 100_000))
                ],
            )
        return meeting.id


def best_ms(function, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def run(invited: int = 100_000, history: int = 1_000_000) -> dict:
    from mailer.digest.build import current_period, digest_context
    from mailer.tracking.figures import meeting_status

    with workspace() as folder:
        app = Instance(folder).app()
        db, settings = app.extensions["mailer.db"], app.extensions["mailer.settings"]
        start = time.perf_counter()
        meeting_id = fill(db, settings, invited, history)
        filled = time.perf_counter() - start
        with db.transaction() as session:
            figures = meeting_status(session, meeting_id)
            assert figures.invited == invited, figures
            period = current_period(session)

            status_ms = best_ms(lambda: meeting_status(session, meeting_id))
            digest_ms = best_ms(lambda: digest_context(session, settings, *period))
        db.dispose()
    return {
        "status_invited": invited,
        "status_history_rows": history,
        "status_fill_seconds": round(filled, 1),
        "status_ms": round(status_ms, 1),
        "digest_ms": round(digest_ms, 1),
    }


if __name__ == "__main__":
    print(json.dumps(run(*(int(a) for a in sys.argv[1:3])), indent=2))
