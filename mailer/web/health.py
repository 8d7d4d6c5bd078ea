"""/healthz: for load balancers, systemd and monitoring; JSON, 200 only when all is well.

503 when the database cannot be read and written (with the reason), or when mail waits
and no worker has been heard from for two minutes (with the worker's age).
"""

from flask import Blueprint, current_app

from mailer.operations.faults import FileWatch
from mailer.operations.health import database_problem
from mailer.operations.heartbeat import worker_health

bp = Blueprint("health", __name__)


def _watch() -> FileWatch:
    from mailer.web.extensions import settings_of

    return current_app.extensions.setdefault("mailer.file_watch", FileWatch(settings_of(current_app).database_url))


@bp.get("/healthz")
def healthz():
    from mailer.web.extensions import db_of

    database = db_of(current_app)
    problem = database_problem(database, _watch())
    if problem:
        return {"status": "error", "database": problem}, 503
    with database.transaction() as session:
        worker = worker_health(session)
    if worker.stalled:
        return {"status": "stalled", "database": "ok", "worker": worker.to_json()}, 503
    return {"status": "ok", "database": "ok", "worker": worker.to_json()}
