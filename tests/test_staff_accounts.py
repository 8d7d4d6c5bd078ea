"""Staff accounts: scrypt hashes, one-time set-password links, slowed-down failed log-ins, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select
from staff_helpers import PASSWORD, STAFF_EMAIL

from mailer.audit.models import AuditEntry
from mailer.db import utcnow
from mailer.staff import accounts
from mailer.staff.login import FREE_FAILURES, MAX_WAIT, log_in, wait_after
from mailer.staff.models import LoginFailure, StaffUser

SECRET = "test-secret-key-0123456789abcdef"


def test_passwords_are_stored_as_slow_scrypt_hashes(db, staff):
    with db.transaction() as session:
        user = session.get(StaffUser, staff)
        assert user.password_hash.startswith("scrypt:")
        assert PASSWORD not in user.password_hash
        assert accounts.password_matches(user, PASSWORD)
        assert not accounts.password_matches(user, PASSWORD.upper())
        assert not accounts.password_matches(None, PASSWORD)


def test_add_staff_checks_address_uniqueness_and_password_length(db, staff):
    with db.transaction() as session:
        with pytest.raises(accounts.StaffError) as exists:
            accounts.add_staff(session, " Kansli@AX.example.org ", None, PASSWORD)
        assert exists.value.reason == "exists"
        with pytest.raises(accounts.StaffError) as short:
            accounts.add_staff(session, "ny@ax.example.org", None, "kort")
        assert short.value.reason == "too_short"
        with pytest.raises(accounts.StaffError) as bad:
            accounts.add_staff(session, "inte-en-adress", None, PASSWORD)
        assert bad.value.reason == "email"
        waiting = accounts.add_staff(session, "ny@ax.example.org", "Ny Person")
        assert waiting.password_hash is None
        assert not accounts.password_matches(waiting, "")


def test_a_set_password_link_works_once_and_expires(db, staff):
    with db.transaction() as session:
        user = session.get(StaffUser, staff)
        token = accounts.set_password_token(SECRET, user)
        assert accounts.user_for_token(session, SECRET, token).id == staff
        with pytest.raises(accounts.BadLink):
            accounts.user_for_token(session, SECRET, token, max_age=-1)  # expired
        with pytest.raises(accounts.BadLink):
            accounts.user_for_token(session, "another-secret-key-0123456789", token)
        with pytest.raises(accounts.BadLink):
            accounts.user_for_token(session, SECRET, token[:-2])
        accounts.set_password(session, user, "ett helt nytt lösenord")
        with pytest.raises(accounts.BadLink):  # used: the password hash it was bound to is gone
            accounts.user_for_token(session, SECRET, token)
        # A link signed with a rotated-out key still works while that key is listed as old.
        old = URLSafeTimedSerializer("old-secret-key-0123456789abcdef", salt="mailer.staff.set-password").dumps(
            {"id": user.id, "fp": accounts.fingerprint(user.password_hash)}
        )
        assert accounts.user_for_token(session, SECRET, old, ("old-secret-key-0123456789abcdef",)).id == staff


def test_the_wait_doubles_after_a_few_free_failures():
    assert [wait_after(n) for n in range(FREE_FAILURES)] == [0] * FREE_FAILURES
    assert [wait_after(n) for n in range(FREE_FAILURES, FREE_FAILURES + 4)] == [2, 4, 8, 16]
    assert wait_after(100) == MAX_WAIT


def test_failed_logins_are_slowed_down_per_account_and_address(db, staff):
    now = utcnow()
    for _ in range(FREE_FAILURES):
        outcome = log_in(db, STAFF_EMAIL, "fel lösenord", "192.0.2.1", now)
        assert outcome.user is None and outcome.wait == 0
    # Now even the right password is refused, unchecked, until the wait is over.
    refused = log_in(db, STAFF_EMAIL, PASSWORD, "192.0.2.1", now + dt.timedelta(seconds=1))
    assert refused.user is None and refused.wait == 1
    # Another address (a colleague in another office) is not held up.
    assert log_in(db, STAFF_EMAIL, PASSWORD, "198.51.100.7", now).user is not None
    later = log_in(db, STAFF_EMAIL, PASSWORD, "192.0.2.1", now + dt.timedelta(seconds=2))
    assert later.user is not None and later.user.last_login_at == now + dt.timedelta(seconds=2)
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(LoginFailure)) == 0  # success clears the count


def test_unknown_addresses_are_counted_and_refused_like_wrong_passwords(db, staff):
    now = utcnow()
    for _ in range(FREE_FAILURES + 2):
        log_in(db, "nobody@ax.example.org", "whatever", "192.0.2.1", now)
    assert log_in(db, "nobody@ax.example.org", "whatever", "192.0.2.1", now).wait > 0
    with db.reading() as session:
        failure = session.scalar(select(LoginFailure))
        assert "nobody" not in failure.key and len(failure.key) == 64  # only a hash is stored
    # A day later the count starts afresh.
    assert log_in(db, "nobody@ax.example.org", "x", "192.0.2.1", now + dt.timedelta(days=2)).wait == 0


def test_staff_cli_add_asks_again_in_swedish_when_the_passwords_differ(runner, db):
    result = runner.invoke(
        ["--lang", "sv", "staff", "add", "karin@ax.example.org"], input=f"{PASSWORD}\nfel\n{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.count("Lösenord: ") == 2 and result.stderr.count("Upprepa lösenordet: ") == 2
    assert "Lösenorden är inte lika; skriv dem igen." in result.stderr
    assert "Repeat" not in result.output and "Error" not in result.output
    with db.transaction() as session:
        assert accounts.password_matches(session.scalar(select(StaffUser)), PASSWORD)


def test_staff_cli_add_with_password_list_and_remove(runner, db):
    result = runner.invoke(
        ["staff", "add", "Karin@AX.example.org", "--name", "Karin Kansli"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert "staff account karin@ax.example.org created" in result.output
    with db.transaction() as session:
        user = session.scalar(select(StaffUser))
        assert user.name == "Karin Kansli" and accounts.password_matches(user, PASSWORD)

    again = runner.invoke(["staff", "add", "karin@ax.example.org"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert again.exit_code == 1 and "already exists" in again.output

    listed = runner.invoke(["staff", "list", "--json"])
    assert json.loads(listed.output) == [
        {
            "email": "karin@ax.example.org",
            "name": "Karin Kansli",
            "role": "admin",
            "active": True,
            "password_set": True,
            "last_login_at": None,
        }
    ]
    assert "never logged in" in runner.invoke(["staff", "list"]).output

    assert runner.invoke(["staff", "remove", "karin@ax.example.org"]).exit_code == 0
    assert runner.invoke(["staff", "remove", "karin@ax.example.org"]).exit_code == 1
    with db.transaction() as session:
        assert session.scalar(select(StaffUser)) is None
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["staff.add", "staff.remove"]


def test_staff_cli_add_with_a_set_password_link(runner, app, db):
    result = runner.invoke(["staff", "add", "ny@ax.example.org", "--link"])
    assert result.exit_code == 0, result.output
    link = re.search(r"(http://mailer\.test/staff/set-password/\S+)", result.output).group(1)
    token = link.rsplit("/", 1)[1]
    with db.transaction() as session:
        user = accounts.user_for_token(session, SECRET, token)
        assert user.email == "ny@ax.example.org" and user.password_hash is None
    assert "waiting for a password" in runner.invoke(["staff", "list"]).output
    fresh = runner.invoke(["staff", "link", "ny@ax.example.org"])
    assert fresh.exit_code == 0 and "/staff/set-password/" in fresh.output
    assert runner.invoke(["staff", "link", "nobody@ax.example.org"]).exit_code == 1


def test_staff_cli_sets_roles_deactivates_and_names_an_unknown_role(runner, db):
    assert runner.invoke(["staff", "add", "chef@ax.example.org", "--link"]).exit_code == 0  # first: admin
    added = runner.invoke(["staff", "add", "lasare@ax.example.org", "--role", "viewer", "--link"])
    assert added.exit_code == 0 and "(role viewer)" in added.output
    bad = runner.invoke(["staff", "add", "x@ax.example.org", "--role", "boss", "--link"])
    assert bad.exit_code == 1 and "'boss'" in bad.stderr and "admin, staff, viewer" in bad.stderr
    assert runner.invoke(["staff", "role", "lasare@ax.example.org", "staff"]).exit_code == 0
    last = runner.invoke(["staff", "role", "chef@ax.example.org", "viewer"])
    assert last.exit_code == 1 and "only active administrator" in last.stderr
    assert runner.invoke(["staff", "deactivate", "lasare@ax.example.org"]).exit_code == 0
    with db.transaction() as session:
        user = accounts.find_staff(session, "lasare@ax.example.org")
        assert user.role == "staff" and not user.active
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["staff.add", "staff.add", "staff.role", "staff.deactivate"]


def test_the_cli_speaks_swedish_by_default_and_english_on_request(runner):
    swedish = runner.invoke(["staff", "add", "kansli@ax.example.org", "--link"], env={"LANG": "C.UTF-8"})
    assert "kontot kansli@ax.example.org är skapat (roll admin)" in swedish.output
    again = runner.invoke(["--lang", "sv", "staff", "add", "kansli@ax.example.org", "--link"])
    assert again.exit_code == 1 and "Det finns redan ett konto för kansli@ax.example.org" in again.stderr
    english = runner.invoke(
        ["staff", "add", "kansli@ax.example.org", "--link"], env={"LANG": "C.UTF-8", "MAILER_LANGUAGE": "en"}
    )
    assert "a staff account for kansli@ax.example.org already exists" in english.stderr
    assert (
        "already exists"
        in runner.invoke(
            ["--lang", "en", "staff", "add", "kansli@ax.example.org", "--link"], env={"LANG": "sv_SE.UTF-8"}
        ).stderr
    )
    unknown = runner.invoke(["--lang", "fi", "staff", "list"])
    assert unknown.exit_code == 2 and "'fi'" in unknown.stderr
