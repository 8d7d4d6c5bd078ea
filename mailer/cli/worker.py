from __future__ import annotations

import click
from flask.logging import default_handler

from mailer.cli.progress import ProgressLine
from mailer.cli.runtime import Runtime, cli_language, fail, pass_runtime
from mailer.logs import configure as configure_logging
from mailer.translations import translate


@click.command()
@click.option("--until-idle", is_flag=True, help="Exit once nothing is due (demo, tests, cron).")
@click.option("-v", "--verbose", is_flag=True)
@pass_runtime
def worker(runtime: Runtime, until_idle: bool, verbose: bool) -> None:
    """Run the scheduler and send queued mail (exactly one per SQLite database)."""
    from mailer.worker.runner import run_worker

    configure_logging(verbose, [default_handler])  # Flask's "Exception on ..." goes there
    with ProgressLine("progress.messages", force=None if until_idle else False) as progress:
        fault = run_worker(runtime.db, runtime.settings, runtime.templates, until_idle=until_idle, progress=progress)
    if fault is not None:  # its database file was deleted or replaced: it stopped rather than write into it
        language = cli_language()
        fail(translate("ops.worker_stopped", language, problem=fault.render(language)), 2)
