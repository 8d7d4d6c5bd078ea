"""`mailer init`, the SQLite set-up, the demo, and the listing commands."""

from __future__ import annotations

import json
import sqlite3
import stat
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import text

from mailer.config import load_settings
from mailer.db import Database, head_revision

DEMO_CONTACTS = Path(__file__).parent.parent / "contacts"


def sqlite_pragma(path: Path, pragma: str):
    connection = sqlite3.connect(path)
    try:
        return connection.execute(f"PRAGMA {pragma}").fetchone()[0]
    finally:
        connection.close()


# --- mailer init -------------------------------------------------------------


def test_init_creates_instance_config_and_schema(bare_runner):
    runner, instance = bare_runner

    result = runner.invoke(["init"])

    assert result.exit_code == 0, result.output
    config_file = instance / "config.toml"
    config = tomllib.loads(config_file.read_text(encoding="utf-8"))
    assert len(config["secret_key"]) >= 32
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((instance / "mailer.sqlite").stat().st_mode) == 0o600  # every contact is in it
    assert f"wrote {config_file} with a new secret key" in result.stdout
    assert f"at revision {head_revision()}" in result.stdout

    settings = load_settings(environ={"MAILER_INSTANCE_PATH": str(instance)})
    assert settings.database_url == f"sqlite:///{instance / 'mailer.sqlite'}"
    database = Database(settings.database_url)
    try:
        assert database.current_revision() == head_revision()
    finally:
        database.dispose()


def test_init_generates_a_fresh_secret_key_each_time_it_writes_a_config(bare_runner):
    runner, instance = bare_runner
    keys = set()
    for _ in range(2):
        assert runner.invoke(["init"]).exit_code == 0
        config_file = instance / "config.toml"
        keys.add(tomllib.loads(config_file.read_text(encoding="utf-8"))["secret_key"])
        config_file.unlink()

    assert len(keys) == 2


def test_init_twice_keeps_the_secret_key_and_is_harmless(bare_runner):
    runner, instance = bare_runner
    assert runner.invoke(["init"]).exit_code == 0
    first = (instance / "config.toml").read_text(encoding="utf-8")

    result = runner.invoke(["init"])

    assert result.exit_code == 0, result.output
    assert (instance / "config.toml").read_text(encoding="utf-8") == first
    assert "kept existing" in result.stdout
    assert f"at revision {head_revision()}" in result.stdout


def test_init_never_overwrites_a_hand_written_config(bare_runner):
    runner, instance = bare_runner
    instance.mkdir(parents=True)
    handwritten = (
        'secret_key = "kept-by-hand-0123456789abcdef"\n'
        'base_url = "https://utskick.ax.example.org"\n'
        'from = "Ax <info@ax.example.org>"\n'
    )
    (instance / "config.toml").write_text(handwritten, encoding="utf-8")

    result = runner.invoke(["init"])

    assert result.exit_code == 0, result.output
    assert (instance / "config.toml").read_text(encoding="utf-8") == handwritten


def test_init_with_a_malformed_setting_names_it(bare_runner):
    runner, _ = bare_runner

    result = runner.invoke(["init"], env={"MAILER_BASE_URL": "ftp://x"})

    assert result.exit_code == 2
    assert "MAILER_BASE_URL" in result.stderr


def test_commands_before_init_ask_for_init(bare_runner):
    runner, _ = bare_runner
    env = {"MAILER_SECRET_KEY": "x" * 32, "MAILER_BASE_URL": "http://mailer.test", "MAILER_FROM": "a@ax.example.org"}

    result = runner.invoke(["orgs", "list"], env=env)

    assert result.exit_code == 2
    assert "run `mailer init`" in result.stderr


# --- SQLite: WAL and busy timeout ----------------------------------------------


def test_init_leaves_the_database_in_wal_mode(bare_runner):
    runner, instance = bare_runner
    assert runner.invoke(["init"]).exit_code == 0

    # WAL is a property of the file: a plain sqlite3 connection sees it too.
    assert sqlite_pragma(instance / "mailer.sqlite", "journal_mode") == "wal"
    connection = sqlite3.connect(instance / "mailer.sqlite")  # held open, so its -wal and -shm stay
    try:
        connection.execute("CREATE TABLE scratch (value TEXT)")
        for side in ("mailer.sqlite-wal", "mailer.sqlite-shm"):  # SQLite gives them the database file's mode
            assert stat.S_IMODE((instance / side).stat().st_mode) == 0o600, side
    finally:
        connection.close()


def test_every_sqlite_connection_uses_wal_and_a_busy_timeout(tmp_path):
    # Its own SQLite file, so this stays a SQLite test when `database_url` also runs PostgreSQL.
    database = Database(f"sqlite:///{tmp_path / 'db' / 'wal.sqlite'}")
    try:
        database.upgrade()
        with database.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        with database.transaction() as session:  # and transactions work on top of it
            assert session.execute(text("SELECT count(*) FROM contacts")).scalar() == 0
    finally:
        database.dispose()


def test_app_fixture_database_is_at_the_newest_revision(db):
    assert db.current_revision() == head_revision()
    db.upgrade()  # again: harmless
    assert db.current_revision() == head_revision()


# --- listings on an empty database -------------------------------------------


@pytest.mark.parametrize(
    ("args", "last_line"),
    [
        (["orgs", "list"], "0 organisations, 0 memberships"),
        (["contacts", "list"], "0 contacts"),
        (["meetings", "list"], "0 meetings"),
    ],
)
def test_listings_of_an_empty_database(runner, args, last_line):
    result = runner.invoke(args)

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [last_line]
    assert json.loads(runner.invoke([*args, "--json"]).stdout) == []


def test_help_lists_the_commands(bare_runner):
    runner, instance = bare_runner

    result = runner.invoke(["--help"])

    assert result.exit_code == 0
    for command in ("init", "contacts", "orgs", "meetings", "demo"):
        assert f"  {command}" in result.stdout
    assert not instance.exists()  # --help needs no config


# --- mailer demo ----------------------------------------------------------------


def test_demo_loads_the_demo_lists_and_six_meetings(runner):
    result = runner.invoke(["demo", "--contacts", DEMO_CONTACTS])

    assert result.exit_code == 0, result.output
    rejected = result.stderr.splitlines()
    assert len(rejected) == 16
    assert all(line.startswith(str(DEMO_CONTACTS)) and ".csv:" in line for line in rejected)
    assert "imported 22 contact lists (16 rows rejected, see above)" in result.stdout
    assert "added 6 meetings" in result.stdout
    assert "22 member organisations, 934 contacts" in result.stdout

    orgs = json.loads(runner.invoke(["orgs", "list", "--json"]).stdout)
    assert len(orgs) == 22
    assert all(o["contacts"] > 0 for o in orgs)
    # display names come from contacts/organisations.csv, not from the slug
    names = {o["slug"]: o["name"] for o in orgs}
    assert names["fiktiva-korforbundet"] == "Fiktiva Körförbundet"

    contacts = json.loads(runner.invoke(["contacts", "list", "--json"]).stdout)
    assert len(contacts) == 934  # Leyla Sehlstedt is on a third list (a third spelling) instead of a new person
    assert sum(len(c["organisations"]) for c in contacts) == sum(o["contacts"] for o in orgs)
    assert all(c["email"] == c["email"].lower() for c in contacts)

    meetings = json.loads(runner.invoke(["meetings", "list", "--json"]).stdout)
    assert [m["slug"] for m in meetings] == ["eskilstuna", "goteborg", "gavle", "falun", "lulea", "ostersund"]


def test_demo_twice_changes_nothing(runner):
    assert runner.invoke(["demo", "--contacts", DEMO_CONTACTS]).exit_code == 0
    before = runner.invoke(["contacts", "list", "--json"]).stdout

    result = runner.invoke(["demo", "--contacts", DEMO_CONTACTS])

    assert result.exit_code == 0, result.output
    assert "demo meetings already present" in result.stdout
    assert "no new or changed contacts" in result.stdout
    assert "created by an earlier `make demo`: nothing new is sent" in result.stdout
    assert "22 member organisations, 934 contacts" in result.stdout
    swedish = runner.invoke(["--lang", "sv", "demo", "--contacts", DEMO_CONTACTS])
    assert "demoträffarna fanns redan" in swedish.stdout and "inget nytt skickas" in swedish.stdout
    assert runner.invoke(["contacts", "list", "--json"]).stdout == before
    assert len(json.loads(runner.invoke(["meetings", "list", "--json"]).stdout)) == 6


def test_demo_lists_account_for_all_1000_rows(db):
    from mailer.demo import import_demo_contacts

    with db.transaction() as session:
        report = import_demo_contacts(session, DEMO_CONTACTS)

    lists = [f for f in report.files if f.organisation]
    assert len(lists) == 22
    assert not any(f.error for f in report.files)
    duplicates = sum(1 for f in lists for w in f.warnings if w.code == "duplicate")
    assert sum(f.imported + f.updated + f.unchanged + len(f.rejected) for f in lists) + duplicates == 1000
    assert sum(len(f.rejected) for f in lists) == 16
    assert report.exit_code == 1


def test_init_writes_staff_emails_from_the_first_staff_account(bare_runner):
    runner, instance = bare_runner
    assert runner.invoke(["init"]).exit_code == 0
    config = instance / "config.toml"
    assert "# staff_emails" in config.read_text(encoding="utf-8")
    env = {"MAILER_INSTANCE_PATH": str(instance)}
    assert runner.invoke(["staff", "add", "kansli@ax.example.org", "--link"], env=env).exit_code == 0
    again = runner.invoke(["init"])
    assert again.exit_code == 0
    assert 'wrote staff_emails = ["kansli@ax.example.org"]' in again.stdout
    assert 'staff_emails = ["kansli@ax.example.org"]' in config.read_text(encoding="utf-8")
    listed = runner.invoke(["staff", "list"], env=env)  # the config still loads (valid TOML)
    assert listed.exit_code == 0
    third = runner.invoke(["init"])
    assert "wrote staff_emails" not in third.stdout  # set once; a file the user edited is left alone


def test_cli_sentences_speak_swedish(runner, make_meeting, make_csv):
    """Every sentence the CLI prints comes from the catalogs: Swedish with --lang sv, English here by default."""
    make_meeting(slug="falun", city="Falun")
    make_meeting(slug="gavle", city="Gävle")

    edited = runner.invoke(["--lang", "sv", "meetings", "edit", "falun", "--title", "Dialogträff Falun"])
    cancelled = runner.invoke(["--lang", "sv", "meetings", "cancel", "gavle"])
    unknown = runner.invoke(["--lang", "sv", "meetings", "cancel", "narnia"])
    asked = runner.invoke(["--lang", "sv", "contacts", "forget", "anna@kor.example.org"], input="n\n")
    lists = make_csv("kor.csv", "email,name\nanna@kor.example.org,Anna\n")
    bad_column = runner.invoke(["--lang", "sv", "contacts", "import", lists, "--column", "Namn=favourite"])
    bad_region = runner.invoke(["--lang", "sv", "contacts", "import", lists, "--map-region", "Sörmlands län=Narnia"])
    english = runner.invoke(["meetings", "edit", "falun", "--city", "Falun"])
    bad_to = runner.invoke(["--lang", "sv", "campaigns", "test", "1", "--to", "kansli@"])

    assert edited.exit_code == 0 and edited.stdout.strip() == "falun är ändrad"
    assert cancelled.exit_code == 0 and cancelled.stdout.startswith(
        "gavle är inställd; 0 mejl om att träffen är inställd"
    )
    assert unknown.exit_code == 1 and "narnia" in unknown.stderr and "no meeting" not in unknown.stderr
    assert (
        asked.exit_code == 1
        and "Radera allt om anna@kor.example.org? Det går inte att ångra" in asked.output
        and "inget raderades" in asked.stderr
    )
    assert bad_column.exit_code == 1 and "--column: 'favourite' är inte ett av" in bad_column.stderr
    assert bad_region.exit_code == 1 and "--map-region: 'Narnia' är inte en region" in bad_region.stderr
    assert english.exit_code == 0 and english.stdout.strip() == "falun updated"
    assert bad_to.exit_code == 1 and "--to: kansli@ är inte en e-postadress som går att skicka till" in bad_to.stderr


def test_import_summary_speaks_swedish(runner, make_csv):
    lists = make_csv("kor.csv", "email,name\nanna@kor.example.org,Anna\nberit@kor.example.org,Berit\n")

    swedish = runner.invoke(["--lang", "sv", "contacts", "import", lists])
    again = runner.invoke(["contacts", "import", lists])

    assert (
        swedish.exit_code == 0 and "kor.csv: 2 nya, 0 ändrade, 0 oförändrade, 0 borttagna, 0 avvisade" in swedish.stdout
    )
    assert again.exit_code == 0 and "kor.csv: 0 new, 0 changed, 2 unchanged, 0 removed, 0 rejected" in again.stdout
