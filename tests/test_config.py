"""Settings: instance/config.toml, overridden by MAILER_* variables, checked at start."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers import next_weekday

from mailer.app import create_app
from mailer.config import ConfigError, cron_trigger, load_settings

SECRET_KEY = "a-secret-key-for-these-tests-0123"
BASE_URL = "http://mailer.test"


@pytest.fixture
def environ(instance_path: Path) -> dict[str, str]:
    """The smallest environment that starts: the three required settings."""
    return {
        "MAILER_INSTANCE_PATH": str(instance_path),
        "MAILER_SECRET_KEY": SECRET_KEY,
        "MAILER_BASE_URL": BASE_URL,
        "MAILER_FROM": "Ax <info@ax.example.org>",
    }


def write_config(instance_path: Path, text: str) -> Path:
    instance_path.mkdir(parents=True, exist_ok=True)
    path = instance_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults(environ, instance_path):
    settings = load_settings(environ=environ)

    assert settings.instance_path == instance_path
    assert settings.database_url == f"sqlite:///{instance_path / 'mailer.sqlite'}"
    assert settings.smtp_url is None
    assert settings.outbox_path == instance_path / "outbox"
    assert settings.staff_emails == ()
    assert settings.timezone == ZoneInfo("Europe/Stockholm")
    assert settings.language == "sv"
    assert settings.secret_key == SECRET_KEY
    assert settings.base_url == BASE_URL
    assert settings.mail_from.display_name == "Ax"
    assert settings.mail_from.addr_spec == "info@ax.example.org"


def test_instance_path_defaults_to_instance_folder_in_working_directory(environ, tmp_path, monkeypatch):
    del environ["MAILER_INSTANCE_PATH"]
    monkeypatch.chdir(tmp_path)

    settings = load_settings(environ=environ)

    assert settings.instance_path == (tmp_path / "instance").resolve()
    assert settings.database_url == f"sqlite:///{(tmp_path / 'instance' / 'mailer.sqlite').resolve()}"


def test_every_documented_variable_is_read(environ, tmp_path):
    environ.update(
        {
            "MAILER_DATABASE_URL": f"sqlite:///{tmp_path / 'elsewhere.sqlite'}",
            "MAILER_BASE_URL": "https://utskick.ax.example.org/",
            "MAILER_SMTP_URL": "smtp://user:pw@smtp.example.org:587",
            "MAILER_FROM": "Ax – Kulturorganisationer i samverkan <Info@AX.example.org>",
            "MAILER_STAFF_EMAILS": "kansli@ax.example.org, ordforande@ax.example.org,",
            "MAILER_TIMEZONE": "Europe/Helsinki",
            "MAILER_LANGUAGE": "EN",
        }
    )

    settings = load_settings(environ=environ)

    assert settings.database_url == f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"
    assert settings.base_url == "https://utskick.ax.example.org"  # trailing slash dropped
    assert settings.smtp_url == "smtp://user:pw@smtp.example.org:587"
    assert settings.mail_from.display_name == "Ax – Kulturorganisationer i samverkan"
    assert settings.mail_from.domain == "ax.example.org"
    assert settings.staff_emails == ("kansli@ax.example.org", "ordforande@ax.example.org")
    assert settings.timezone == ZoneInfo("Europe/Helsinki")
    assert settings.language == "en"


def test_empty_smtp_url_means_file_outbox(environ):
    environ["MAILER_SMTP_URL"] = "  "

    assert load_settings(environ=environ).smtp_url is None


def test_config_file_is_read_and_environment_wins(environ, instance_path):
    del environ["MAILER_SECRET_KEY"], environ["MAILER_FROM"]
    write_config(
        instance_path,
        (
            'secret_key = "from-the-config-file-0123456789"\n'
            'base_url = "https://from-file.example.org"\n'
            'from = "Fil <fil@ax.example.org>"\n'
            'staff_emails = ["a@ax.example.org", "b@ax.example.org"]\n'
            'language = "en"\n'
            'timezone = "UTC"\n'
        ),
    )

    settings = load_settings(environ=environ)

    assert settings.secret_key == "from-the-config-file-0123456789"
    assert settings.mail_from.addr_spec == "fil@ax.example.org"
    assert settings.staff_emails == ("a@ax.example.org", "b@ax.example.org")
    assert settings.language == "en"
    assert settings.timezone == ZoneInfo("UTC")
    assert settings.base_url == BASE_URL  # MAILER_BASE_URL overrides the file


def test_create_app_takes_settings_by_config_toml_names(test_config, instance_path):
    app = create_app(test_config)

    settings = app.extensions["mailer.settings"]
    assert app.config["SECRET_KEY"] == test_config["secret_key"]
    assert app.instance_path == str(instance_path)
    assert settings.base_url == "http://mailer.test"
    assert settings.mail_from.addr_spec == "info@ax.example.org"
    assert app.extensions["mailer.db"].url == test_config["database_url"]
    app.extensions["mailer.db"].dispose()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MAILER_BASE_URL", "ftp://x"),
        ("MAILER_BASE_URL", "mailer.example.org"),
        ("MAILER_SECRET_KEY", "too-short"),
        ("MAILER_SECRET_KEY", "   "),
        ("MAILER_FROM", "not an address"),
        ("MAILER_FROM", "a@ax.example.org, b@ax.example.org"),
        ("MAILER_SMTP_URL", "http://smtp.example.org"),
        ("MAILER_SMTP_URL", "smtp://smtp.example.org:port"),
        ("MAILER_STAFF_EMAILS", "kansli@ax.example.org,nobody"),
        ("MAILER_TIMEZONE", "Mars/Olympus"),
        ("MAILER_TIMEZONE", "Europe"),
        ("MAILER_TIMEZONE", "../etc/passwd"),
        ("MAILER_LANGUAGE", "de"),
        ("MAILER_DATABASE_URL", "not a database url"),
        ("MAILER_DATABASE_URL", "postgres://user@db.example.org/mailer"),
        ("MAILER_DATABASE_URL", "mysql://user@db.example.org/mailer"),
    ],
)
def test_malformed_setting_names_the_variable(environ, variable, value):
    environ[variable] = value

    with pytest.raises(ConfigError) as caught:
        load_settings(environ=environ)

    assert caught.value.setting == variable
    assert str(caught.value).startswith(f"{variable}: ")


@pytest.mark.parametrize("variable", ["MAILER_SECRET_KEY", "MAILER_BASE_URL", "MAILER_FROM"])
def test_missing_required_setting_names_the_variable(environ, variable):
    del environ[variable]

    with pytest.raises(ConfigError) as caught:
        load_settings(environ=environ)

    assert caught.value.setting == variable
    assert "is not set" in str(caught.value)


def test_malformed_value_in_config_file_names_the_setting(environ, instance_path):
    del environ["MAILER_BASE_URL"]
    write_config(instance_path, "base_url = 5\n")

    with pytest.raises(ConfigError, match="^MAILER_BASE_URL: "):
        load_settings(environ=environ)


def test_unknown_key_in_config_file_is_named(environ, instance_path):
    path = write_config(instance_path, 'smtp_host = "smtp.example.org"\n')

    with pytest.raises(ConfigError) as caught:
        load_settings(environ=environ)

    assert caught.value.setting == str(path)
    assert "smtp_host" in str(caught.value)


def test_unparsable_config_file_is_named(environ, instance_path):
    path = write_config(instance_path, "secret_key = \n")

    with pytest.raises(ConfigError) as caught:
        load_settings(environ=environ)

    assert caught.value.setting == str(path)
    assert "cannot be read" in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MAILER_BASE_URL", "ftp://x"),
        ("MAILER_TIMEZONE", "Europe"),
        ("MAILER_LANGUAGE", "fi"),
        ("MAILER_DATABASE_URL", "postgres://user@db.example.org/mailer"),
        ("MAILER_SECRET_KEY", None),  # unset
    ],
)
def test_cli_stops_at_start_with_the_setting_name(runner, variable, value):
    result = runner.invoke(["orgs", "list"], env={variable: value})

    assert result.exit_code == 2
    assert variable in result.stderr
    assert result.stderr.startswith("mailer: configuration error: ")
    assert result.stdout == ""


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////srv/mailer/mailer.sqlite",
        "postgresql://mailer:pw@db.example.org/mailer",
        "postgresql+psycopg://mailer@db.example.org:5433/mailer",
    ],
)
def test_supported_database_urls(environ, url):
    environ["MAILER_DATABASE_URL"] = url

    assert load_settings(environ=environ).database_url == url


def test_proxy_count_trusts_forwarded_headers_for_exactly_that_many_hops(test_config):
    from mailer.app import create_app

    def client_address(app, forwarded: str) -> str:
        @app.get("/_whoami")
        def whoami():
            from flask import request

            return f"{request.remote_addr} {request.scheme}"

        return (
            app.test_client()
            .get(
                "/_whoami",
                headers={"X-Forwarded-For": forwarded, "X-Forwarded-Proto": "https"},
                environ_base={"REMOTE_ADDR": "10.0.0.1"},
            )
            .get_data(as_text=True)
        )

    assert client_address(create_app(test_config), "203.0.113.9") == "10.0.0.1 http"  # default: not trusted
    behind_one = create_app({**test_config, "proxy_count": 1})
    assert client_address(behind_one, "198.51.100.7, 203.0.113.9") == "203.0.113.9 https"


def test_proxy_count_must_be_a_whole_number(test_config):
    from mailer.app import create_app
    from mailer.config import ConfigError

    with pytest.raises(ConfigError, match="MAILER_PROXY_COUNT"):
        create_app({**test_config, "proxy_count": "many"})


MONDAY = next_weekday(0)  # a Monday ahead of today; the schedules below are read from 09:00 that day
MONDAY_0900 = dt.datetime.combine(MONDAY, dt.time(9, 0), tzinfo=ZoneInfo("Europe/Stockholm"))


@pytest.mark.parametrize(
    ("schedule", "days_after_monday", "next_run"),
    [
        ("mon 08:00", 7, "Mon 08:00"),
        ("0 8 * * 1", 7, "Mon 08:00"),  # crontab: 1 = Monday (APScheduler 3 alone would say Tuesday)
        ("0 9 * * 2", 1, "Tue 09:00"),
        ("0 8 * * 0", 6, "Sun 08:00"),
        ("0 8 * * 7", 6, "Sun 08:00"),
        ("0 8 * * 6-7", 5, "Sat 08:00"),
        ("0 10 * * 1-5", 0, "Mon 10:00"),
        ("0 8 * * fri", 4, "Fri 08:00"),
    ],
)
def test_digest_schedules_mean_what_they_mean_in_crontab(schedule, days_after_monday, next_run):
    trigger = cron_trigger(schedule, ZoneInfo("Europe/Stockholm"))
    expected = f"{MONDAY + dt.timedelta(days=days_after_monday):%Y-%m-%d} {next_run}"
    assert f"{trigger.get_next_fire_time(None, MONDAY_0900):%Y-%m-%d %a %H:%M}" == expected


def test_a_day_of_month_schedule_fires_on_that_day():
    first = dt.datetime(MONDAY_0900.year + 1, 1, 1, tzinfo=MONDAY_0900.tzinfo)  # a 1 January ahead, from midnight
    trigger = cron_trigger("30 7 1 * *", ZoneInfo("Europe/Stockholm"))
    assert f"{trigger.get_next_fire_time(None, first):%Y-%m-%d %H:%M}" == f"{first:%Y-%m-%d} 07:30"


@pytest.mark.parametrize("schedule", ["0 8 * * 9", "0 8 * *", "0 8 * * 1/0", "mon 25:00", "someday"])
def test_a_bad_digest_schedule_stops_the_start_with_the_setting_named(environ, schedule):
    with pytest.raises(ConfigError) as error:
        load_settings(environ={**environ, "MAILER_DIGEST_CRON": schedule})
    assert "MAILER_DIGEST_CRON" in str(error.value)


def test_bounce_settings_are_checked_at_start(environ):
    settings = load_settings(
        environ={
            **environ,
            "MAILER_BOUNCE_ADDRESS": "Bounces@AX.example.org",
            "MAILER_BOUNCE_IMAP_URL": "imaps://bounces%40ax.example.org:pw@imap.example.org/INBOX",
            "MAILER_SOFT_BOUNCE_LIMIT": "5",
        }
    )
    assert (settings.bounce_address, settings.soft_bounce_limit) == ("Bounces@ax.example.org", 5)
    assert load_settings(environ=environ).bounce_address is None  # unset: the From address, untagged
    for name, value in (
        ("MAILER_BOUNCE_ADDRESS", "bounces+x@ax.example.org"),
        ("MAILER_BOUNCE_ADDRESS", "nope"),
        ("MAILER_BOUNCE_IMAP_URL", "pop3://u:p@host/"),
        ("MAILER_BOUNCE_IMAP_URL", "imaps://host/INBOX"),
        ("MAILER_SOFT_BOUNCE_LIMIT", "0"),
    ):
        with pytest.raises(ConfigError) as error:
            load_settings(environ={**environ, name: value})
        assert error.value.setting == name
