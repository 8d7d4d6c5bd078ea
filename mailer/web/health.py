from flask import Blueprint, current_app
from sqlalchemy import text

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 when the database answers; load balancers and systemd watch this."""
    from mailer.app import db_of

    try:
        with db_of(current_app).engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return {"status": "error", "database": "unreachable"}, 503
    return {"status": "ok"}
