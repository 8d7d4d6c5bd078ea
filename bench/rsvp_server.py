"""The server the RSVP benchmark loads: `mailer serve`'s gunicorn set-up and app, plus one
route that does nothing (/bench/bare) and one that does only what any form POST with a
session costs in Flask (/bench/floor/<token>: read the body and the session cookie, answer
303 to the page; with ?commit=1 also one empty write transaction; with ?write=1 one row
written and committed: the durable-write floor every stored answer needs; ?write=2 two rows, one
statement each, in one transaction), so every rate
comes from the same server.

Usage (environment: the instance's MAILER_* variables): python bench/rsvp_server.py PORT WORKERS THREADS
"""

from __future__ import annotations

import sys

from flask import current_app, redirect, request, session, url_for
from sqlalchemy import text

from mailer.app import create_app
from mailer.cli.serve import SWITCH_INTERVAL_S, MailerServer
from mailer.web.extensions import db_of


def floor(token: str):
    request.form.get("answer")
    session.get("csrf_token")
    if request.args.get("commit"):  # and one empty write transaction, as every answer opens
        with db_of(current_app).transaction() as db_session:
            db_session.connection()
    if request.args.get("write"):  # and one row written and committed, as every answer writes at least
        with db_of(current_app).transaction() as db_session:
            for _ in range(int(request.args["write"])):
                db_session.execute(INSERT, {"token": token})
    return redirect(url_for("bench_floor", token=token, saved="1"), code=303)


INSERT = text("INSERT INTO bench_floor (token) VALUES (:token)")


def main() -> None:
    port, workers, threads = (int(a) for a in sys.argv[1:4])
    app = create_app()
    with db_of(app).transaction() as db_session:  # a scratch table, outside the app's schema
        db_session.execute(text("CREATE TABLE IF NOT EXISTS bench_floor (token VARCHAR(200) NOT NULL)"))
    app.add_url_rule("/bench/bare", "bench_bare", lambda: ("", 200))
    app.add_url_rule("/bench/floor/<token>", "bench_floor", floor, methods=["POST"])
    app.extensions["mailer.db"].dispose()  # nothing shared with the forked workers
    sys.setswitchinterval(SWITCH_INTERVAL_S)  # as `mailer serve`
    MailerServer(
        app,
        {
            "bind": f"127.0.0.1:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "control_socket_disable": True,
        },
    ).run()


if __name__ == "__main__":
    main()
