"""Staff at work and recipients answering at once, against a real `mailer serve` (issue 18.1).

Shared by tests/test_contention.py (a generous bound, in `make test`) and bench/contention.py
(the figures against the 200 ms goal). While one staff member previews an 18 MB upload,
another loops over the template preview, and 8 log-ins fail, recipients keep opening their
answer pages (GET) and answering (POST); every recipient request's time is recorded.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from helpers import CSRF, Browser

UPLOAD_BYTES = 18 * 1024 * 1024


def big_list(size: int = UPLOAD_BYTES) -> bytes:
    """A contact list of about `size` bytes, every row valid."""
    rows, total, i = ["email,name,role,phone"], 0, 0
    while total < size:
        row = f"person{i}@lista{i % 97}.example.org,Person Nummer{i} Efternamn,ledamot,070-{i:07d}"
        rows.append(row)
        total += len(row) + 1
        i += 1
    return ("\n".join(rows) + "\n").encode()


@dataclass
class Outcome:
    gets: list[float] = field(default_factory=list)  # seconds per recipient GET
    posts: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    staff: dict[str, str] = field(default_factory=dict)  # what each staff task ended with
    seconds: float = 0.0

    @staticmethod
    def p95(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] if ordered else float("nan")


def staff_and_recipients(
    base: str,
    answer_paths: list[str],
    staff_email: str,
    password: str,
    upload: bytes,
    previews: int = 40,
    failed_logins: int = 8,
    recipients: int = 4,
) -> Outcome:
    """Run the three staff tasks, with recipients answering until all three have finished."""
    outcome = Outcome()
    lock = threading.Lock()
    staff_done = threading.Event()

    def upload_preview() -> str:
        client = Browser(base, timeout=300)
        client.log_in(staff_email, password)
        status, page = client.upload(upload, "storlista")
        return f"{status} {'Om du importerar' in page}"

    def template_previews() -> str:
        client = Browser(base, timeout=300)
        client.log_in(staff_email, password)
        token = client.open_form("/staff/templates/sv/invitation.txt")
        statuses = set()
        for _ in range(previews):
            statuses.add(
                client.post(
                    "/staff/templates/sv/invitation.txt/preview.json", {"csrf_token": token, "text": _TEMPLATE}
                )[0]
            )
        return f"{previews} previews: {sorted(statuses)}"

    def wrong_passwords() -> str:
        statuses = [
            Browser(base, timeout=300).log_in(f"fel{i}@ax.example.org", "inte rätt lösenord")
            for i in range(failed_logins)
        ]
        return f"{failed_logins} failed log-ins: {sorted(set(statuses))}"

    def recipient(number: int) -> None:
        index = number
        while not staff_done.is_set():
            path = answer_paths[index % len(answer_paths)]
            index += recipients
            client = Browser(base)
            started = time.monotonic()
            try:
                status, page = client.get(path)
                got = time.monotonic()
                match = CSRF.search(page)
                if status != 200 or match is None:
                    raise AssertionError(f"GET {status}")
                status, _ = client.post(path, {"csrf_token": match.group(1), "answer": "yes"})
                if status not in (200, 303):
                    raise AssertionError(f"POST {status}")
                done = time.monotonic()
                with lock:
                    outcome.gets.append(got - started)
                    outcome.posts.append(done - got)
            except (AssertionError, OSError) as exc:
                with lock:
                    outcome.failures.append(f"{path}: {exc}")

    def staff_task(name: str, work) -> None:
        try:
            outcome.staff[name] = work()
        except Exception as exc:  # reported, and the recipients still stop
            outcome.staff[name] = f"failed: {exc!r}"

    started = time.monotonic()
    answering = [threading.Thread(target=recipient, args=(n,)) for n in range(recipients)]
    for thread in answering:
        thread.start()
    staff = [
        threading.Thread(target=staff_task, args=(name, work))
        for name, work in (("upload", upload_preview), ("templates", template_previews), ("logins", wrong_passwords))
    ]
    for thread in staff:
        thread.start()
    for thread in staff:
        thread.join()
    staff_done.set()
    for thread in answering:
        thread.join()
    outcome.seconds = time.monotonic() - started
    return outcome


# The invitation's text with a loop, so that each preview renders a few hundred kB.
_TEMPLATE = """{% extends "base.txt" %}
{% block subject %}Inbjudan: {{ meeting.title }}{% endblock %}
{% block content -%}
Hej {{ contact.first_name }}!
{% for n in range(2000) %}Rad {{ n }}: {{ meeting.when }}, {{ meeting.place }}.
{% endfor %}
{%- endblock %}
"""
