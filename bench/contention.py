"""Recipients while staff work (issue 18.1): the 95th percentile of recipients' answer-page GETs
and answer POSTs on a real `mailer serve` (SQLite, one process, 8 threads) while one staff
member previews an 18 MB upload, another loops over the template preview and 8 log-ins fail.
Goal: p95 under 200 ms for both, and no request fails. The scenario is tests/contention_load.py,
which tests/test_contention.py also runs with a generous bound.

Usage: python bench/contention.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from common import Instance, free_port, people_and_meeting, serving, workspace  # noqa: E402
from contention_load import Outcome, big_list, staff_and_recipients  # noqa: E402

GOAL_MS = 200
PEOPLE = 40
STAFF_EMAIL, PASSWORD = "kansli@ax.example.org", "ett långt lösenord"


def set_up(instance: Instance, folder: Path) -> list[str]:
    """The people, their meeting and a staff account; each person's answer page path."""
    from mailer.staff.accounts import add_staff

    paths = people_and_meeting(instance, folder, PEOPLE)
    db = instance.app().extensions["mailer.db"]
    with db.transaction() as session:
        add_staff(session, STAFF_EMAIL, "Karin", PASSWORD)
    db.dispose()
    return paths


def run() -> dict:
    port = free_port()
    with workspace() as folder:
        instance = Instance(folder, base_url=f"http://127.0.0.1:{port}", public_rate_limit="100000000 per minute")
        paths = set_up(instance, folder)
        with serving(instance, port):
            outcome = staff_and_recipients(f"http://127.0.0.1:{port}", paths, STAFF_EMAIL, PASSWORD, big_list())
    get_ms, post_ms = Outcome.p95(outcome.gets) * 1000, Outcome.p95(outcome.posts) * 1000
    return {
        "contention_get_p95_ms": round(get_ms, 1),
        "contention_post_p95_ms": round(post_ms, 1),
        "contention_requests": len(outcome.gets) + len(outcome.posts),
        "contention_failures": len(outcome.failures),
        "contention_seconds": round(outcome.seconds, 1),
        "contention_staff": outcome.staff,
        "contention_goal_ms": GOAL_MS,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, ensure_ascii=False))
