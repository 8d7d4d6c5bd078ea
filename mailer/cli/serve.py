"""`mailer serve`: the web app under gunicorn.

One process with threads by default, because the in-memory rate-limit
counters are per process: several processes would each allow the full limit.
More workers are refused until the limits live in a shared store.
"""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.logging import default_handler
from gunicorn.app.base import BaseApplication

from mailer.cli.runtime import Runtime, cli_language, echo_translated, fail, pass_runtime
from mailer.config import env_name
from mailer.logs import install_filter
from mailer.operations.running import SERVE_LOCK, hold_lock, serve_label
from mailer.translations import translate


class MailerServer(BaseApplication):
    def __init__(self, app: Flask, options: dict):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings of newer gunicorns are skipped on older ones
                self.cfg.set(key, value)

    def load(self) -> Flask:
        install_filter([default_handler])  # gunicorn's handlers exist by now, in each worker process
        return self.application


# How often a thread holding the GIL is asked to let another run (Python's default: 5 ms).
# Why shorter: a recipient's request that only needs a few milliseconds of Python waited
# behind a staff thread parsing an 18 MB upload or rendering a preview, one 5 ms slice after
# another, at every step. With 0.5 ms the p95 of answers during staff work fell from 197 ms
# to well under 100 ms on 2 busy cores (docs/performance.md); the CPU lost to switching is small.
SWITCH_INTERVAL_S = 0.0005


def shared_store(url: str) -> bool:
    return not url.startswith("memory://")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: all).")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes; more than 1 needs MAILER_RATELIMIT_STORAGE_URL set to a shared store (Redis).",
)
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="Threads per process.")
@pass_runtime
def serve(runtime: Runtime, host: str, port: int, workers: int, threads: int) -> None:
    """Run the web app (staff pages, answer, unsubscribe and evaluation pages, /healthz) under gunicorn."""
    store = runtime.settings.ratelimit_storage_url
    if workers > 1 and not shared_store(store):
        fail(
            translate(
                "cli.workers_need_store",
                cli_language(),
                workers=workers,
                setting=env_name("ratelimit_storage_url"),
                store=store,
            ),
            2,
        )
    app = runtime.app
    runtime.db.dispose()  # no connection may be shared with the forked worker processes
    # Held while this server (and its forked workers, which inherit it) lives: `mailer restore`
    # refuses while it is held. A second server on the same instance finds it taken: one is enough.
    serving = hold_lock(runtime.settings.instance_path / SERVE_LOCK, serve_label(host, port))  # noqa: F841
    sys.setswitchinterval(SWITCH_INTERVAL_S)  # inherited by the forked worker processes
    echo_translated(
        "cli.serving", url=runtime.settings.base_url, host=host, port=port, workers=workers, threads=threads
    )
    MailerServer(
        app,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "timeout": 60,
            "graceful_timeout": 20,
            "accesslog": None,  # URLs carry personal link tokens: keep them out of logs
            "errorlog": "-",
            "loglevel": "info",
            "proc_name": "mailer",
            # gunicorn >= 25.1 opens a control socket at one path per user; two instances
            # (or the tests' servers) would fight over it, and nothing here needs it.
            "control_socket_disable": True,
        },
    ).run()
