"""Recipients are not held up by staff at work (issue 18.1), on a real `mailer serve`.

While an 18 MB upload is previewed, the template preview runs in a loop and 8 log-ins fail,
recipients keep opening their answer pages and answering: none fails, and the 95th
percentile stays under the goal, 200 ms, times three: the margin a busy shared CI machine
needs (bench/contention.py measures the goal itself: 87-97 ms on 2 cores at load 7-9). It
guards against the write lock being held for seconds again (21.6 s for one GET during an upload
preview, once) and against recipients' threads starving behind staff work (`mailer serve`'s
switch interval, 197 ms before).
"""

from __future__ import annotations

import pytest
from contention_load import Outcome, big_list, staff_and_recipients
from rsvp_fixtures import links_for
from sqlalchemy import func, select

from mailer.rsvp.models import Response
from mailer.staff.accounts import add_staff

GOAL_P95 = 0.2  # seconds (bench/contention.py)
GENEROUS_P95 = 3 * GOAL_P95
STAFF_EMAIL, PASSWORD = "kansli@ax.example.org", "ett långt lösenord"


@pytest.fixture
def cli_env(cli_env):
    """The recipients' requests all come from 127.0.0.1: the per-address limit must not answer 429."""
    return {**cli_env, "MAILER_PUBLIC_RATE_LIMIT": "100000 per minute"}


@pytest.mark.slow
def test_recipients_answer_quickly_while_staff_preview_an_upload_templates_and_fail_to_log_in(
    app, db, live_server, person, make_meeting
):
    meeting = make_meeting(slug="falun").id
    paths = [links_for(app, person(f"svar{i}@example.org", f"Svar {i}"), meeting)["rsvp_url"] for i in range(40)]
    with db.transaction() as session:
        add_staff(session, STAFF_EMAIL, "Karin", PASSWORD)

    outcome = staff_and_recipients(live_server.base, paths, STAFF_EMAIL, PASSWORD, big_list())

    assert outcome.staff["upload"] == "200 True", outcome.staff
    assert outcome.staff["templates"] == "40 previews: [200]", outcome.staff
    assert outcome.staff["logins"] == "8 failed log-ins: [401]", outcome.staff
    assert outcome.failures == []
    assert len(outcome.posts) >= 10, outcome  # recipients answered all along
    p95_get, p95_post = Outcome.p95(outcome.gets), Outcome.p95(outcome.posts)
    assert p95_get < GENEROUS_P95 and p95_post < GENEROUS_P95, (p95_get, p95_post, outcome.seconds)
    with db.reading() as session:  # every answer is stored (a repeated, unchanged answer adds no history)
        assert session.scalar(select(func.count()).select_from(Response)) == min(len(paths), len(outcome.posts))
    print(
        f"recipients during staff work: p95 GET {p95_get * 1000:.0f} ms, POST {p95_post * 1000:.0f} ms, "
        f"{len(outcome.posts)} answers in {outcome.seconds:.0f} s"
    )
