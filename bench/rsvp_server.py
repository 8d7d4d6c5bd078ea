"""The server the RSVP benchmark loads: `mailer serve`'s gunicorn set-up and app, plus one
route that does nothing (/bench/bare), so both rates come from the same server.

Usage (environment: the instance's MAILER_* variables): python bench/rsvp_server.py PORT WORKERS THREADS
"""

from __future__ import annotations

import sys

from mailer.app import create_app
from mailer.cli.serve import MailerServer


def main() -> None:
    port, workers, threads = (int(a) for a in sys.argv[1:4])
    app = create_app()
    app.add_url_rule("/bench/bare", "bench_bare", lambda: ("", 200))
    app.extensions["mailer.db"].dispose()  # nothing shared with the forked workers
    MailerServer(app, {"bind": f"127.0.0.1:{port}", "workers": workers, "threads": threads,
                       "worker_class": "gthread", "accesslog": None, "errorlog": "-", "loglevel": "warning",
                       "control_socket_disable": True}).run()


if __name__ == "__main__":
    main()
