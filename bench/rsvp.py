"""RSVP: answers a second POSTed to /r/<token> under a real server (gunicorn, as `mailer serve`
runs it) with wrk as the load generator, divided by the same server's durable-write floor: a
POST that reads the form and the session cookie, writes one row and commits (issue 18.7; the
target is a ratio of at least 0.75). Each answer POST is a real answer: a signed link resolved,
the CSRF token checked, the answer and its history written, a confirmation mail queued, all in
one transaction.

The answers and the floor take turns (floor, answers, floor, ... ROUNDS times) and the ratio is
the median of each round's answers ÷ the mean of the floors either side of it: a small shared
machine drifts by a fifth within a minute, which one run of each would read as a change. Every
POST is a new answer (PEOPLE is more than any round sends), with the fields the page sends.

Also measured, to show the bounds: a route that does nothing (rsvp_bare_per_s, the old
ceiling), a POST that only reads the form and session and redirects (rsvp_floor_per_s), and
the same with one empty write transaction (rsvp_floor_commit_per_s).

Scaled out (rsvp_scaled_*): the same answers on PostgreSQL with the rate limits in Redis,
under `--workers 1` and `--workers 4`; their ratio is the scaling (goal: at least 3 on 4
cores). Both servers must run on 127.0.0.1 (5432 and 6379), as on the development and CI
machines; where they do not, the figures are skipped and the reason is printed.

Usage: python bench/rsvp.py [SECONDS]
"""

from __future__ import annotations

import json
import os
import re
import resource
import statistics
import subprocess
import sys
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Instance, ensure_tools, free_port, people_and_meeting, serving, which, workspace  # noqa: E402

PEOPLE = 20000  # each round answers for people of its own: enough for 1,300 answers a second
ROUNDS = 3
CONNECTIONS, WORKERS, THREADS = 16, 1, 8
# wrk's threads; fewer leave more of a 2-core machine to the server (BENCH_WRK_THREADS=1)
WRK_THREADS = int(os.environ.get("BENCH_WRK_THREADS", "2"))
LUA = """
local paths, i, threads = {}, 0, %(threads)d
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
wrk.method = "%(method)s"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "%(cookie)s"
wrk.body = "%(body)s"
local started = 0
function setup(thread)
  thread:set("id", started)
  started = started + 1
end
request = function()
  -- each wrk thread its own paths (thread n takes n, n + threads, ...): no answer is sent twice
  local at = (i * threads + (id or 0)) %% #paths
  i = i + 1
  return wrk.format(nil, paths[at + 1])
end
"""


def set_up(instance: Instance, folder: Path, port: int) -> list[str]:
    """People, a meeting without a cap, and each person's answer page path."""
    return people_and_meeting(instance, folder, PEOPLE, "--max-guests", "3")


def script(folder: Path, name: str, paths: list[str], method: str, cookie: str = "", body: str = "") -> Path:
    """A wrk script sending `method` to `paths` in turn, each wrk thread its own of them."""
    (folder / f"{name}.txt").write_text("\n".join(paths) + "\n")
    lua = folder / f"{name}.lua"
    values = {"paths": folder / f"{name}.txt", "method": method, "cookie": cookie, "body": body}
    lua.write_text(LUA % {**values, "threads": WRK_THREADS})
    return lua


def answer_body(token: str) -> str:
    """A yes with one guest, as the answer page sends it: its comment and question fields left empty."""
    return urllib.parse.urlencode(
        {"csrf_token": token, "answer": "yes", "guests": "1", "comment": "", "diet": "", "accessibility": ""}
    )


def session_and_token(port: int, path: str) -> tuple[str, str]:
    """Open one answer page like a browser: its session cookie and CSRF token serve every POST."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(f"http://127.0.0.1:{port}{path}").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    return "; ".join(f"{c.name}={c.value}" for c in jar), token


def cpu_ticks() -> tuple[int, int]:
    """The machine's busy and total CPU time so far (/proc/stat), every process counted."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(values[:8])
    return total - values[3] - values[4], total  # idle and iowait are not busy


def wrk(port: int, script: Path, seconds: int, path: str) -> tuple[float, dict]:
    """Requests a second, and what went wrong; `wrk_cores` is the CPU wrk itself used (cores busy on
    average), since on a small machine the load generator competes with the server it measures."""
    before, busy_before = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_ticks()
    out = subprocess.run(
        [
            which("wrk"),
            f"-t{WRK_THREADS}",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}{path}",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    after, busy_after = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_ticks()
    machine_busy = (busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, {
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "non_2xx_3xx": int(errors.group(1)) if errors else 0,
        "wrk_cores": round(cpu / seconds, 2),
        "machine_busy": round(machine_busy, 2),
    }


def run(seconds: int = 10) -> dict:
    ensure_tools()
    port = free_port()
    with workspace() as folder:
        instance = Instance(folder, base_url=f"http://127.0.0.1:{port}", public_rate_limit="100000000 per minute")
        paths = set_up(instance, folder, port)
        command = [
            sys.executable,
            str(Path(__file__).with_name("rsvp_server.py")),
            str(port),
            str(WORKERS),
            str(THREADS),
        ]
        with serving(instance, port, command):
            cookie, token = session_and_token(port, paths[0])
            body = answer_body(token)
            bare = script(folder, "bare", ["/bench/bare"], "GET")
            # each round answers for people of its own: every POST is somebody's first answer
            share = len(paths) // ROUNDS
            posts_of = [
                script(folder, f"post{number}", paths[number * share : (number + 1) * share], "POST", cookie, body)
                for number in range(ROUNDS)
            ]
            floors = {
                name: script(
                    folder, name, [f"/bench/floor/{p.rsplit('/', 1)[1]}{query}" for p in paths], "POST", cookie, body
                )
                for name, query in (("floor", ""), ("commit", "?commit=1"), ("write", "?write=1"))
            }
            wrk(port, bare, 2, "/bench/bare")  # warm up
            bare_rate, _ = wrk(port, bare, seconds, "/bench/bare")
            floor_rate, floor_problems = wrk(port, floors["floor"], seconds, "/bench/floor/x")
            commit_rate, commit_problems = wrk(port, floors["commit"], seconds, "/bench/floor/x")
            round_seconds = max(2, seconds // 2)
            writes, posts, ratios, sent = [], [], [], 0
            write_rate, write_problems = wrk(port, floors["write"], round_seconds, "/bench/floor/x")
            writes.append(write_rate)
            failed = [write_problems] if write_problems["non_2xx_3xx"] else []
            for post in posts_of:
                post_rate, problems = wrk(port, post, round_seconds, paths[0])
                write_rate, write_problems = wrk(port, floors["write"], round_seconds, "/bench/floor/x")
                posts.append(post_rate)
                ratios.append(post_rate / ((writes[-1] + write_rate) / 2))
                writes.append(write_rate)
                sent += problems["requests"]
                failed += [found for found in (problems, write_problems) if found["non_2xx_3xx"]]
                if failed:
                    break
        answered = count_answers(instance)
    if failed or any(p["non_2xx_3xx"] for p in (floor_problems, commit_problems)) or answered == 0:
        raise RuntimeError(
            f"RSVP posts failed: {failed}, floor {floor_problems}, {commit_problems}, {answered} answers stored"
        )
    if answered < sent:  # a round ran out of people and answered again for some: those write nothing
        raise RuntimeError(f"{sent} answers sent but {answered} stored: raise PEOPLE in bench/rsvp.py")
    post_rate, write_rate = statistics.median(posts), statistics.median(writes)
    return {
        "rsvp_posts_per_s": round(post_rate),
        "rsvp_bare_per_s": round(bare_rate),
        "rsvp_floor_write_per_s": round(write_rate),
        "rsvp_ratio": round(statistics.median(ratios), 3),
        "rsvp_rounds": [f"{post:.0f}/{write:.0f}" for post, write in zip(posts, writes[1:], strict=True)],
        "rsvp_bare_ratio": round(post_rate / bare_rate, 3),
        "rsvp_answers_stored": answered,
        "rsvp_floor_per_s": round(floor_rate),
        "rsvp_floor_ratio": round(floor_rate / bare_rate, 3),
        "rsvp_floor_commit_per_s": round(commit_rate),
        "rsvp_floor_commit_ratio": round(commit_rate / bare_rate, 3),
        "rsvp_server": f"gunicorn gthread, {WORKERS} process x {THREADS} threads, SQLite; "
        f"wrk {WRK_THREADS} threads x {CONNECTIONS} connections, {seconds} s each "
        f"(answers and durable writes: {ROUNDS} rounds of {max(2, seconds // 2)} s, taking turns)",
    }


def scaled(seconds: int) -> dict:
    """RSVP POST/s on PostgreSQL with Redis rate limits, 1 and 4 gunicorn processes."""
    import socket
    import uuid

    reason = next(
        (
            f"nothing listens on 127.0.0.1:{port} ({name})"
            for name, port in (("PostgreSQL", 5432), ("Redis", 6379))
            if socket.socket().connect_ex(("127.0.0.1", port))
        ),
        None,
    )
    if reason:
        print(f"bench: scaled-out RSVP figures skipped: {reason}", file=sys.stderr)
        return {"rsvp_scaled_skipped": reason}
    import psycopg

    admin_url = os.environ.get("MAILER_BENCH_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"mailer_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    rates = {}
    try:
        with workspace() as folder:
            port = free_port()
            instance = Instance(
                folder,
                database_url=f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
                base_url=f"http://127.0.0.1:{port}",
                public_rate_limit="100000000 per minute",
                ratelimit_storage_url="redis://127.0.0.1:6379/13",
            )
            paths = set_up(instance, folder, port)
            share = len(paths) // 3  # people of their own for each number of workers
            wrk_cores, machine_busy = {}, {}
            for workers in (1, 2, 4):
                command = [
                    sys.executable,
                    str(Path(__file__).with_name("rsvp_server.py")),
                    str(port),
                    str(workers),
                    str(THREADS),
                ]
                with serving(instance, port, command, log=folder / "server.log"):
                    cookie, token = session_and_token(port, paths[0])
                    people = paths[[1, 2, 4].index(workers) * share :][:share]
                    warm_up = script(folder, f"warm{workers}", people[-500:], "POST", cookie, answer_body(token))
                    post = script(folder, f"post{workers}", people[:-500], "POST", cookie, answer_body(token))
                    wrk(port, warm_up, 2, paths[0])  # every process started, with people of its own
                    rates[workers], problems = wrk(port, post, seconds, paths[0])
                    wrk_cores[workers] = problems["wrk_cores"]
                    machine_busy[workers] = problems["machine_busy"]
                if problems["non_2xx_3xx"]:
                    print((folder / "server.log").read_text()[-3000:], file=sys.stderr)
                    raise RuntimeError(f"scaled RSVP posts failed with {workers} workers: {problems}")
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return {
        "rsvp_scaled_1_worker_per_s": round(rates[1]),
        "rsvp_scaled_2_workers_per_s": round(rates[2]),
        "rsvp_scaled_4_workers_per_s": round(rates[4]),
        "rsvp_scaled_ratio": round(rates[4] / rates[1], 2),
        "rsvp_scaled_2_ratio": round(rates[2] / rates[1], 2),
        "rsvp_scaled_wrk_cores": wrk_cores,
        "rsvp_scaled_machine_busy": machine_busy,
        "rsvp_scaled_cores": os.cpu_count(),
        "rsvp_scaled_server": f"PostgreSQL and Redis on 127.0.0.1, gunicorn gthread x {THREADS} threads, "
        f"wrk {WRK_THREADS} threads x {CONNECTIONS} connections on the same machine",
    }


def count_answers(instance: Instance) -> int:
    from sqlalchemy import func, select

    from mailer.rsvp.models import ResponseChange

    app = instance.app()
    db = app.extensions["mailer.db"]
    with db.transaction() as session:
        count = session.scalar(select(func.count()).select_from(ResponseChange))
    db.dispose()
    return count


if __name__ == "__main__":
    duration = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    print(json.dumps({**run(duration), **scaled(duration)}, indent=2))
