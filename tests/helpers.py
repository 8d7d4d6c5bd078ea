"""Plain helpers shared by the tests: dates relative to today, and waiting on a condition.

Why: a test that names a fixed year starts failing the day that year has passed, and a test
that sleeps a fixed time fails on a busy machine. Tests take their dates from here, so the
whole suite keeps passing with the clock set years ahead (see the note in conftest.py), and
they wait with `wait_until`, which returns as soon as the condition holds.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TypeVar
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

STOCKHOLM = ZoneInfo("Europe/Stockholm")

Value = TypeVar("Value")


def today() -> dt.date:
    """Today's date in Stockholm, the zone meetings are entered in."""
    return dt.datetime.now(STOCKHOLM).date()


def future_year(years: int = 2) -> int:
    """A year that is still ahead: every date in it (1 January included) lies in the future.

    Tests that need a date with a given month and day (a summer-time meeting, a night the
    clocks change) use this year, so their meaning stays while today moves on.
    """
    return today().year + years


def past_year(years: int = 1) -> int:
    """A year wholly behind us (for meetings that have taken place and reports over them)."""
    return today().year - years


def future(days: int = 30, hour: int = 18, minute: int = 0) -> dt.datetime:
    """That many days after today, at that local Stockholm time (aware)."""
    day = today() + dt.timedelta(days=days)
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=STOCKHOLM)


def past(days: int = 30, hour: int = 18, minute: int = 0) -> dt.datetime:
    """That many days before today, at that local Stockholm time (aware)."""
    return future(-days, hour, minute)


def next_weekday(weekday: int) -> dt.date:
    """The first date after today with that weekday (0 = Monday), at least a day ahead."""
    start = today() + dt.timedelta(days=1)
    return start + dt.timedelta(days=(weekday - start.weekday()) % 7)


def stamp(moment: dt.datetime) -> str:
    """'YYYY-MM-DD HH:MM', as the CLI's --starts/--send-at and make_meeting(starts=...) take it."""
    return moment.strftime("%Y-%m-%d %H:%M")


def iso_day(value: dt.date | dt.datetime) -> str:
    """'YYYY-MM-DD', as the CLI's --rsvp-by and the web's date fields take it."""
    return value.strftime("%Y-%m-%d")


def local(text: str) -> dt.datetime:
    """'YYYY-MM-DD HH:MM' read as Stockholm time (aware)."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=STOCKHOLM)


def when(starts: str, ends: str | None = None, language: str = "sv") -> str:
    """How the app writes a meeting's time, e.g. 'tisdag 16 september <year> kl. 18.00–20.00'.

    `starts` is 'YYYY-MM-DD HH:MM' in Stockholm, `ends` the same or just 'HH:MM' on that day;
    weekday and month names come from the app's own formatter, never typed into a test.
    """
    from mailer.i18n import format_when

    start = local(starts)
    end = None
    if ends is not None:
        end = local(ends if len(ends) > 5 else f"{starts[:10]} {ends}")
    return format_when(start, end, STOCKHOLM, language)


def day(date: str, language: str = "sv") -> str:
    """How the app names a day, e.g. 'tisdag 16 september <year>' for '<year>-09-16' (the app's own formatter)."""
    from mailer.i18n import format_day

    return format_day(dt.date.fromisoformat(date), STOCKHOLM, language)


def last_sunday(year: int, month: int) -> dt.date:
    """The last Sunday of that month: EU clocks go forward in March and back in October then."""
    day = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
    return day - dt.timedelta(days=(day.weekday() - 6) % 7)


def wait_until(predicate: Callable[[], Value], timeout: float = 30.0, what: str = "the condition",
               interval: float = 0.05, detail: Callable[[], str] | None = None) -> Value:
    """Poll `predicate` until it returns something true, and return that; fail the test after `timeout` s
    (with `detail()`, e.g. a server's log, in the message).

    Why: a fixed sleep is too short on a loaded machine and too long everywhere else.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}" + (f":\n{detail()}" if detail else ""))
        time.sleep(interval)
