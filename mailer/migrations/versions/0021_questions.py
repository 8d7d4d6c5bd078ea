"""questions: a meeting's (or series') own questions; diet and accessibility become two of them

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-03 10:00:00

New tables and columns, and whether they are personal:
- questions (meeting_id or series_id, key, kind text/choice/multi/yesno, label_sv, label_en, options,
  required, position, is_default, created_at): not personal.
- question_answers (response_id, question_id, updated_at: not personal; value: personal).
- response_history.answers: the questions' answers as they were at each change: personal.
Dropped: responses.diet, responses.accessibility, response_history.diet, response_history.accessibility.

Every meeting and series gets the default questions "Kost/allergier" (diet) and "Tillgänglighet"
(accessibility); what people wrote in the old columns becomes their answers to them (for a
session of a series, to the series' questions, which its page asks). The downgrade moves the
answers to those two questions back into the columns.
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

import mailer.db

revision = "0021"
down_revision = "0018"
branch_labels = None
depends_on = None

DEFAULTS = (("diet", "Kost/allergier", "Diet/allergies"), ("accessibility", "Tillgänglighet", "Accessibility"))

questions = sa.table(
    "questions",
    sa.column("id", sa.Integer),
    sa.column("meeting_id", sa.Integer),
    sa.column("series_id", sa.Integer),
    sa.column("key", sa.String),
    sa.column("kind", sa.String),
    sa.column("label_sv", sa.String),
    sa.column("label_en", sa.String),
    sa.column("options", sa.JSON),
    sa.column("required", sa.Boolean),
    sa.column("position", sa.Integer),
    sa.column("is_default", sa.Boolean),
    sa.column("created_at", mailer.db.UTCDateTime(timezone=True)),
)
question_answers = sa.table(
    "question_answers",
    sa.column("response_id", sa.Integer),
    sa.column("question_id", sa.Integer),
    sa.column("value", sa.JSON(none_as_null=True)),
    sa.column("updated_at", mailer.db.UTCDateTime(timezone=True)),
)
responses = sa.table(
    "responses",
    sa.column("id", sa.Integer),
    sa.column("meeting_id", sa.Integer),
    sa.column("diet", sa.String),
    sa.column("accessibility", sa.String),
    sa.column("updated_at", mailer.db.UTCDateTime(timezone=True)),
)
history = sa.table(
    "response_history",
    sa.column("id", sa.Integer),
    sa.column("response_id", sa.Integer),
    sa.column("diet", sa.String),
    sa.column("accessibility", sa.String),
    sa.column("answers", sa.JSON(none_as_null=True)),
)
meetings = sa.table("meetings", sa.column("id", sa.Integer), sa.column("series_id", sa.Integer))
series = sa.table("series", sa.column("id", sa.Integer))


def upgrade() -> None:
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("key", sa.String(length=40), nullable=True),
        sa.Column(
            "kind",
            sa.Enum("text", "choice", "multi", "yesno", name="questionkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("label_sv", sa.String(length=300), nullable=False),
        sa.Column("label_en", sa.String(length=300), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", mailer.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(meeting_id IS NULL) <> (series_id IS NULL)", name="ck_questions_one_owner"),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["series_id"], ["series.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_questions_meeting_id"), ["meeting_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_questions_series_id"), ["series_id"], unique=False)
    op.create_table(
        "question_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("updated_at", mailer.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["response_id"], ["responses.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("response_id", "question_id"),
    )
    with op.batch_alter_table("question_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_question_answers_question_id"), ["question_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_question_answers_response_id"), ["response_id"], unique=False)
    with op.batch_alter_table("response_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answers", sa.JSON(), nullable=True))
    _move_answers_to_questions()
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_column("diet")
        batch_op.drop_column("accessibility")
    with op.batch_alter_table("response_history", schema=None) as batch_op:
        batch_op.drop_column("diet")
        batch_op.drop_column("accessibility")


def _move_answers_to_questions() -> None:
    connection = op.get_bind()
    now = dt.datetime.now(dt.UTC)
    owners = [("series", row.id) for row in connection.execute(sa.select(series.c.id))]
    owners += [("meeting", row.id) for row in connection.execute(sa.select(meetings.c.id))]
    made: list[dict[str, object]] = [
        {
            "meeting_id": owner_id if kind == "meeting" else None,
            "series_id": owner_id if kind == "series" else None,
            "key": key,
            "kind": "text",
            "label_sv": label_sv,
            "label_en": label_en,
            "options": [],
            "required": False,
            "position": position,
            "is_default": True,
            "created_at": now,
        }
        for kind, owner_id in owners
        for position, (key, label_sv, label_en) in enumerate(DEFAULTS)
    ]
    if made:
        connection.execute(questions.insert(), made)
    default_ids: dict[tuple[str, int], dict[str, int]] = {}  # ("meeting"|"series", id) -> key -> question id
    for made_row in connection.execute(
        sa.select(questions.c.id, questions.c.meeting_id, questions.c.series_id, questions.c.key)
    ).all():
        owner = ("series", made_row.series_id) if made_row.series_id is not None else ("meeting", made_row.meeting_id)
        default_ids.setdefault(owner, {})[made_row.key] = made_row.id
    series_of = {row.id: row.series_id for row in connection.execute(sa.select(meetings.c.id, meetings.c.series_id))}
    rows = connection.execute(
        sa.select(
            responses.c.id, responses.c.meeting_id, responses.c.diet, responses.c.accessibility, responses.c.updated_at
        ).where(sa.or_(responses.c.diet.is_not(None), responses.c.accessibility.is_not(None)))
    )
    answers = []
    for row in rows.all():
        series_id = series_of.get(row.meeting_id)
        ids = default_ids[("series", series_id) if series_id is not None else ("meeting", row.meeting_id)]
        for key in ("diet", "accessibility"):
            if getattr(row, key):
                answers.append(
                    {
                        "response_id": row.id,
                        "question_id": ids[key],
                        "value": getattr(row, key),
                        "updated_at": row.updated_at or now,
                    }
                )
    if answers:
        connection.execute(question_answers.insert(), answers)
    for old in connection.execute(
        sa.select(history.c.id, history.c.diet, history.c.accessibility).where(
            sa.or_(history.c.diet.is_not(None), history.c.accessibility.is_not(None))
        )
    ).all():
        given = {key: getattr(old, key) for key in ("diet", "accessibility") if getattr(old, key)}
        connection.execute(history.update().where(history.c.id == old.id).values(answers=given or None))


def downgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("diet", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("accessibility", sa.String(length=300), nullable=True))
    with op.batch_alter_table("response_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("diet", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("accessibility", sa.String(length=300), nullable=True))
    connection = op.get_bind()
    moved = connection.execute(
        sa.select(question_answers.c.response_id, questions.c.key, question_answers.c.value)
        .join(questions, questions.c.id == question_answers.c.question_id)
        .where(questions.c.key.in_(["diet", "accessibility"]), questions.c.is_default.is_(True))
    ).all()
    for row in moved:
        if isinstance(row.value, str) and row.value:
            connection.execute(
                responses.update().where(responses.c.id == row.response_id).values({row.key: row.value[:300]})
            )
    for kept in connection.execute(
        sa.select(history.c.id, history.c.answers).where(history.c.answers.is_not(None))
    ).all():
        given = kept.answers if isinstance(kept.answers, dict) else {}
        values = {key: given[key][:300] for key in ("diet", "accessibility") if isinstance(given.get(key), str)}
        if values:
            connection.execute(history.update().where(history.c.id == kept.id).values(values))
    with op.batch_alter_table("response_history", schema=None) as batch_op:
        batch_op.drop_column("answers")
    with op.batch_alter_table("question_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_question_answers_response_id"))
        batch_op.drop_index(batch_op.f("ix_question_answers_question_id"))
    op.drop_table("question_answers")
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_questions_series_id"))
        batch_op.drop_index(batch_op.f("ix_questions_meeting_id"))
    op.drop_table("questions")
