"""Load against a real server: `mailer serve` with several gunicorn worker processes sharing
their rate-limit counters in Redis (MAILER_RATELIMIT_STORAGE_URL), over the test database.

- 500 different people answer at once: every answer is recorded, with its history and mail.
- One person posts 20 times at once (20 tabs or devices): one response, every post in its history.
- 50 yes answers at once for 10 places: exactly 10 get a place, 40 wait, in order of arrival.
- The public rate limit: configurable (MAILER_PUBLIC_RATE_LIMIT, checked at start), and the
  default one answers 429 after 120 requests a minute from one address, across all processes.

Each test's requests come from its own random loopback address (127.x.y.z), so its rate-limit
counters in the shared Redis never meet those of another test or another run on this machine.
"""

from __future__ import annotations

import pytest
from helpers import Browser
from process_helpers import HIGH_LIMIT, assert_clean_log, at_once, loopback_address, mailer_server, shared_count
from rsvp_fixtures import confirmations, links_for
from smtp_server import free_port
from sqlalchemy import func, select

from mailer.config import DEFAULT_PUBLIC_RATE_LIMIT, ConfigError, load_settings
from mailer.contacts.models import Contact
from mailer.rsvp.models import Answer, LinkOpen, Response, ResponseChange
from mailer.rsvp.questions import given_answers

# -- the setting --------------------------------------------------------------------------------


def test_public_rate_limit_setting_defaults_and_is_checked_at_start(test_config, monkeypatch, runner):
    assert load_settings(test_config).public_rate_limit == DEFAULT_PUBLIC_RATE_LIMIT == "120 per minute;1000 per hour"
    monkeypatch.setenv("MAILER_PUBLIC_RATE_LIMIT", "5000 per minute; 20000/hour")
    assert load_settings(test_config).public_rate_limit == "5000 per minute; 20000/hour"
    for bad in ("lots", "120 per fortnight", "0 per minute", "-5 per minute", "120 per minute;;", " "):
        monkeypatch.setenv("MAILER_PUBLIC_RATE_LIMIT", bad)
        with pytest.raises(ConfigError) as caught:
            load_settings(test_config)
        assert caught.value.setting == "MAILER_PUBLIC_RATE_LIMIT", bad
    monkeypatch.delenv("MAILER_PUBLIC_RATE_LIMIT")
    result = runner.invoke(["serve", "--port", str(free_port())], env={"MAILER_PUBLIC_RATE_LIMIT": "many per minute"})
    assert result.exit_code == 2
    assert result.stderr.startswith("mailer: configuration error: MAILER_PUBLIC_RATE_LIMIT: 'many per minute'")


def test_a_configured_limit_is_the_one_enforced(app, test_config, person, make_meeting):
    from mailer.app import create_app

    path = links_for(app, person("anna@example.org"), make_meeting().id)["rsvp_url"]
    tight = create_app({**test_config, "public_rate_limit": "3 per minute"})
    try:
        client = tight.test_client()
        assert [client.get(path).status_code for _ in range(4)] == [200, 200, 200, 429]
    finally:
        tight.extensions["mailer.db"].dispose()


# -- a real server with several processes ------------------------------------------------------


@pytest.mark.slow
def test_the_default_limit_answers_429_across_all_server_processes(app, db, cli_env, person, make_meeting):
    """120 a minute per address, counted together by all three processes (Redis), then 429."""
    per_minute = int(DEFAULT_PUBLIC_RATE_LIMIT.split()[0])
    anna = person("anna@example.org", "Anna")
    path = links_for(app, anna, make_meeting().id)["rsvp_url"]
    with mailer_server(cli_env, workers=3) as server:
        visitor = server.visitor()
        statuses = [visitor.get(path)[0] for _ in range(per_minute)]
        assert statuses == [200] * per_minute
        status, page = visitor.get(path)
        assert status == 429 and "Vänta en stund" in page
        assert visitor.post(path, {"answer": "yes"})[0] == 429
        assert visitor.get("/u/anything")[0] == 429  # one budget for every public page
        assert Browser(server.base, loopback_address()).get(path)[0] == 200  # another address is not affected
        assert_clean_log(server)
    assert shared_count(f"LIMITER/{server.source}/public/{per_minute}/1/minute") == per_minute + 3
    with db.transaction() as session:
        assert session.scalar(select(LinkOpen.count)) == per_minute + 1  # refused requests logged nothing


@pytest.mark.slow
def test_500_people_answering_at_once_are_all_recorded(app, db, cli_env, person, make_meeting):
    meeting = make_meeting(slug="riksmote", title="Riksmöte", capacity=None, max_guests=2).id
    people = [person(f"p{i}@forening{i % 22}.example.org", f"Person {i}") for i in range(500)]
    paths = {cid: links_for(app, cid, meeting)["rsvp_url"] for cid in people}
    wanted = {
        cid: {
            "answer": "yes" if i % 3 else "no",
            "guests": str(i % 3),
            "diet": f"kost {i}",
            "comment": f"Hälsningar från person {i} <b>&</b>",
        }
        for i, cid in enumerate(people)
    }
    with mailer_server(cli_env, workers=3, threads=8, MAILER_PUBLIC_RATE_LIMIT=HIGH_LIMIT) as server:

        def prepare(i: int):
            cid = people[i]
            visitor = server.visitor()
            token = visitor.open_form(paths[cid])
            return lambda: visitor.post(paths[cid], {"csrf_token": token, **wanted[cid]})[0]

        statuses = at_once(len(people), prepare)
        assert_clean_log(server)
    assert statuses == [303] * len(people)

    with db.transaction() as session:
        stored = {r.contact_id: r for r in session.scalars(select(Response).where(Response.meeting_id == meeting))}
        history = dict(
            session.execute(select(ResponseChange.response_id, func.count()).group_by(ResponseChange.response_id)).all()
        )
        opens = session.scalar(select(func.sum(LinkOpen.count)))
        assert len(stored) == len(people)
        for cid, form in wanted.items():
            r = stored[cid]
            guests = int(form["guests"]) if form["answer"] == "yes" else 0
            assert (r.answer.value, r.guests, given_answers(r).get("diet"), r.comment) == (
                form["answer"],
                guests,
                form["diet"],
                form["comment"],
            )
            assert history[r.id] == 1
    assert opens == len(people)
    mails = confirmations(db)
    assert sorted(m["contact_id"] for m in mails) == sorted(c for c, f in wanted.items() if f["answer"] == "yes")


def expected_mails(history: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The confirmations a sequence of answers calls for (no capacity): a new yes, a change to
    no after a yes, and a new number of guests on a held place."""
    mails, before = [], None
    for answer, guests in history:
        if answer == "yes" and (before is None or before[0] == "no" or before[1] != guests):
            mails.append((answer, guests))
        elif answer == "no" and before is not None and before[0] == "yes":
            mails.append((answer, guests))
        before = (answer, guests)
    return mails


@pytest.mark.slow
def test_one_person_posting_20_times_at_once_leaves_one_response_with_every_post_in_its_history(
    app, db, cli_env, person, make_meeting
):
    meeting = make_meeting(slug="samma", capacity=None, max_guests=3).id
    anna = person("anna@example.org", "Anna")
    path = links_for(app, anna, meeting)["rsvp_url"]
    posts = [{"answer": "yes" if i % 4 else "no", "guests": str(i % 4), "comment": f"försök {i}"} for i in range(20)]
    with mailer_server(cli_env, workers=3, MAILER_PUBLIC_RATE_LIMIT=HIGH_LIMIT) as server:

        def prepare(i: int):
            visitor = server.visitor()  # 20 tabs and devices, each with its own session
            token = visitor.open_form(path)
            return lambda: visitor.post(path, {"csrf_token": token, **posts[i]})[0]

        statuses = at_once(len(posts), prepare)
        assert_clean_log(server)
    assert statuses == [303] * len(posts)

    with db.transaction() as session:
        (response,) = session.scalars(select(Response).where(Response.meeting_id == meeting)).all()
        history = [(c.answer.value, c.guests, c.comment) for c in response.history]
        assert session.scalar(select(func.count()).select_from(ResponseChange)) == len(posts)
        current = (response.answer.value, response.guests, response.comment)
    assert sorted(c for _, _, c in history) == sorted(p["comment"] for p in posts)  # every post, once
    for answer, guests, comment in history:
        i = int(comment.split()[-1])
        assert (answer, guests) == (posts[i]["answer"], int(posts[i]["guests"]) if answer == "yes" else 0)
    assert current == history[-1]  # the answer in force is the last one written
    mails = [(m["answer"], m["guests"]) for m in confirmations(db)]
    assert mails == expected_mails([(a, g) for a, g, _ in history])


@pytest.mark.slow
def test_50_yes_answers_at_once_for_10_places_give_exactly_10_places(app, db, cli_env, person, make_meeting):
    meeting = make_meeting(slug="tio", title="Tio platser", capacity=10, max_guests=0).id
    people = [person(f"p{i}@example.org", f"Person {i}") for i in range(50)]
    with mailer_server(cli_env, workers=3, MAILER_PUBLIC_RATE_LIMIT=HIGH_LIMIT) as server:

        def prepare(i: int):
            visitor = server.visitor()
            path = links_for(app, people[i], meeting)["rsvp_url"]
            token = visitor.open_form(path)
            return lambda: visitor.post(path, {"csrf_token": token, "answer": "yes"})[0]

        statuses = at_once(len(people), prepare)
        assert_clean_log(server)
    assert statuses == [303] * len(people)
    with db.transaction() as session:
        rows = session.execute(
            select(Response.contact_id, Response.waitlisted, Response.answer)
            .where(Response.meeting_id == meeting)
            .order_by(Response.id)
        ).all()
        assert session.scalar(select(func.count()).select_from(Contact)) == 50
    assert {a for _, _, a in rows} == {Answer.YES}
    assert [w for _, w, _ in rows] == [False] * 10 + [True] * 40  # first come, first served
    mails = confirmations(db)
    assert len(mails) == 50
    assert sorted(m["contact_id"] for m in mails if not m["waitlisted"]) == sorted(c for c, w, _ in rows if not w)
