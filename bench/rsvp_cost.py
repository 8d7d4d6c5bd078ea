"""RSVP cost in CPU instructions: an answer POST against the durable-write floor, counted by
valgrind (callgrind), which counts instructions, not seconds, and so gives the same figure on a
busy machine as on an idle one (bench/rsvp.py's rates drift by a fifth within a minute here).

Each request runs in one process through the app's test client (no HTTP server: gunicorn's own
cost, the same for both, is left out, so this ratio sits a little below bench/rsvp.py's). Per
request = (instructions for 250 requests - for 50) / 200, which leaves out start-up and set-up.
Also counted: the answer without the rate limit and without the CSRF check, to show what each
costs; and two bounds on any answer at all: the floor plus only the checks every answer must pass
(rate limit, CSRF token, signed link: `floor_checked`, the best ratio an answer could reach if
answering cost nothing beyond the floor's one row), and the floor writing two rows (`floor_two_rows`:
what one more statement through SQLAlchemy costs).
valgrind counts every thread: `limits`' in-memory store starts a short timer thread when none
runs, which under valgrind's slowness is about once an answer and at full speed once in 10 ms, so
the rate limit's figure here is an upper bound.

Usage: python bench/rsvp_cost.py   (valgrind is installed from Debian when missing, as make bench's other tools)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Instance, ensure_tools, people_and_meeting, workspace  # noqa: E402

FEW, MANY = 50, 250
# variant -> what each request POSTs to ({path}: the person's answer page, {n}: the request's number)
VARIANTS = {
    "floor": "/bench/floor/x{n}?write=1",
    "answer": "{path}",
    "answer_no_limit": "{path}",
    "answer_no_csrf": "{path}",
    "floor_checked": "/bench/checked{path}?write=1",
    "floor_two_rows": "/bench/floor/x{n}?write=2",
}


def instructions(folder: Path, variant: str, requests: int) -> int:
    """Instructions valgrind counted for a child process making `requests` requests of `variant`."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={folder}/callgrind.%p",
            sys.executable,
            __file__,
            "--child",
            str(folder),
            variant,
            str(requests),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode:  # the child's own error is on its stderr, after valgrind's lines
        raise RuntimeError(f"{variant} x {requests}: exit status {done.returncode}\n{done.stderr[-3000:]}")
    return int(re.search(r"Collected : (\d+)", done.stderr).group(1))


def per_request(folder: Path, variant: str) -> float:
    return (instructions(folder, variant, MANY) - instructions(folder, variant, FEW)) / (MANY - FEW)


def child(folder: Path, variant: str, requests: int) -> None:
    """`requests` answers (or floor POSTs) on a copy of the instance, after 20 of each to warm up."""
    import rsvp_server
    from sqlalchemy import text

    copy = folder / f"copy-{os.getpid()}"
    shutil.copytree(folder / "instance", copy / "instance")
    os.environ.update(json.loads((folder / "env.json").read_text()), MAILER_INSTANCE_PATH=str(copy / "instance"))
    from mailer.app import create_app

    app = create_app()
    with app.extensions["mailer.db"].transaction() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS bench_floor (token VARCHAR(200) NOT NULL)"))
    app.add_url_rule("/bench/floor/<token>", "bench_floor", rsvp_server.floor, methods=["POST"])
    app.add_url_rule("/bench/checked/r/<token>", "bench_checked", checked_floor(app), methods=["POST"])
    if variant == "answer_no_limit":
        app.extensions["mailer.rate_limits"].check = lambda *args, **kwargs: None
    if variant == "answer_no_csrf":
        import mailer.web.rsvp

        mailer.web.rsvp.csrf_ok = lambda: True
    paths = json.loads((folder / "paths.json").read_text())
    client = app.test_client()
    page = client.get(paths[0]).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    body = {"csrf_token": token, "answer": "yes", "guests": "1", "comment": "", "diet": "", "accessibility": ""}
    for number, path in enumerate(paths[1:21]):  # both warmed up
        client.post(path, data=body)
        client.post(f"/bench/floor/w{number}?write=1", data=body)
    batch = paths[21 : 21 + requests]
    assert len(batch) == requests, f"{len(batch)} people for {requests} answers"
    for number, path in enumerate(batch):
        reply = client.post(VARIANTS[variant].format(path=path, n=number), data=body)
        assert reply.status_code == 303, (variant, reply.status_code)
    shutil.rmtree(copy)


def checked_floor(app):
    """The floor behind the checks an answer passes first: the public rate limit, the CSRF token
    and the signed link, called as mailer.web.security and mailer.web.rsvp call them."""
    import rsvp_server

    from mailer.mail.context import codec
    from mailer.web.ratelimit import Budget
    from mailer.web.security import client_address, csrf_ok

    settings, limits = app.extensions["mailer.settings"], app.extensions["mailer.rate_limits"]
    budget = Budget.parse("public", settings.public_rate_limit)

    def view(token: str):
        limits.check(budget, client_address())
        assert csrf_ok()
        codec(settings).loads("rsvp", token)
        return rsvp_server.floor(token)

    return view


def run() -> dict:
    ensure_tools({"valgrind": "valgrind"})
    with workspace() as folder:
        instance = Instance(folder, base_url="http://127.0.0.1:1", public_rate_limit="100000000 per minute")
        paths = people_and_meeting(instance, folder, 21 + MANY, "--max-guests", "3")
        (folder / "paths.json").write_text(json.dumps(paths))
        (folder / "env.json").write_text(json.dumps({k: v for k, v in instance.env.items() if k.startswith("MAILER_")}))
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # each valgrind one core
            counts = dict(zip(VARIANTS, pool.map(lambda variant: per_request(folder, variant), VARIANTS), strict=True))
    floor, answer = counts["floor"], counts["answer"]
    return {
        "rsvp_cost_floor_instructions": round(floor),
        "rsvp_cost_answer_instructions": round(answer),
        "rsvp_cost_ratio": round(floor / answer, 3),
        "rsvp_cost_rate_limit_instructions": round(answer - counts["answer_no_limit"]),
        "rsvp_cost_csrf_instructions": round(answer - counts["answer_no_csrf"]),
        "rsvp_cost_checked_floor_instructions": round(counts["floor_checked"]),
        "rsvp_cost_best_ratio": round(floor / counts["floor_checked"], 3),
        "rsvp_cost_statement_instructions": round(counts["floor_two_rows"] - floor),
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    else:
        print(json.dumps(run(), indent=2))
