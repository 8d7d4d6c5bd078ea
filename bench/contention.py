"""Recipients while staff work (issue 18.1): the 95th percentile of recipients' answer-page GETs
and answer POSTs on a real `mailer serve` (SQLite, one process, 8 threads) while one staff
member previews an 18 MB upload, another loops over the template preview and 8 log-ins fail.
Goal: p95 under 200 ms for both, and no request fails. The scenario is tests/contention_load.py,
which tests/test_contention.py also runs with a generous bound.

Usage: python bench/contention.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from common import Instance, free_port, wait_port, workspace  # noqa: E402
from contention_load import Outcome, big_list, staff_and_recipients  # noqa: E402

GOAL_MS = 200
PEOPLE = 40
STAFF_EMAIL, PASSWORD = "kansli@ax.example.org", "ett långt lösenord"


def set_up(instance: Instance, folder: Path) -> list[str]:
    import urllib.parse

    from sqlalchemy import select

    from mailer.contacts.models import Contact
    from mailer.mail.context import links
    from mailer.meetings.models import Meeting
    from mailer.staff.accounts import add_staff

    lines = ["email,name"] + [f"svar{i}@example.org,Svar {i}" for i in range(PEOPLE)]
    (folder / "svar.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    instance.mailer("contacts", "import", str(folder / "svar.csv"))
    instance.mailer(
        "meetings",
        "add",
        "--slug",
        "bench",
        "--title",
        "Dialogträff",
        "--region",
        "Dalarna",
        "--city",
        "Falun",
        "--starts",
        "2031-09-14 18:00",
    )
    app = instance.app()
    db, settings = app.extensions["mailer.db"], app.extensions["mailer.settings"]
    with db.transaction() as session:
        add_staff(session, STAFF_EMAIL, "Karin", PASSWORD)
        meeting = session.scalar(select(Meeting))
        paths = [
            urllib.parse.urlsplit(links(settings, c, meeting)["rsvp_url"]).path
            for c in session.scalars(select(Contact))
        ]
    db.dispose()
    return paths


def run() -> dict:
    port = free_port()
    with workspace() as folder:
        instance = Instance(folder, base_url=f"http://127.0.0.1:{port}", public_rate_limit="100000000 per minute")
        paths = set_up(instance, folder)
        server = subprocess.Popen(
            [sys.executable, "-m", "mailer", "serve", "--port", str(port)],
            env=instance.env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(port)
            outcome = staff_and_recipients(f"http://127.0.0.1:{port}", paths, STAFF_EMAIL, PASSWORD, big_list())
        finally:
            server.terminate()
            server.wait()
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
