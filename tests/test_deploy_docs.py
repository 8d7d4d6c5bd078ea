"""The deployment guide's example files are real: the systemd units parse, run commands and
options that exist, the environment file is a valid configuration, the proxies point at the
port the web unit listens on, and the DNS records say what the guide says they say."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailer.cli import main
from mailer.config import PARSERS, env_name, load_settings

DOCS = Path(__file__).resolve().parent.parent / "docs"
EXAMPLES = DOCS / "examples"
UNITS = ["mailer-web.service", "mailer-worker.service"]


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=True, interpolation=None, delimiters=("=",), comment_prefixes=("#", ";"))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((EXAMPLES / name).read_text(encoding="utf-8"), source=name)
    return parser


def example_environment() -> dict[str, str]:
    lines = (EXAMPLES / "mailer.env").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


@pytest.mark.parametrize("name", UNITS)
def test_unit_files_parse_and_run_mailer_with_options_it_has(name):
    parsed = unit(name)
    assert set(parsed.sections()) == {"Unit", "Service", "Install"}
    service = parsed["Service"]
    assert service["User"] == "mailer" and service["EnvironmentFile"] == "/etc/mailer/mailer.env"
    assert service["KillSignal"] == "SIGTERM" and int(service["TimeoutStopSec"]) >= 30
    assert parsed["Install"]["WantedBy"] == "multi-user.target"
    program, *args = shlex.split(service["ExecStart"])
    assert program == "/opt/mailer/venv/bin/mailer"
    command = [a for a in args if not a.startswith("-")][:1]
    options = {a.split("=")[0] for a in args if a.startswith("--")}
    shown = CliRunner().invoke(main, [*command, "--help"])
    assert shown.exit_code == 0 and command in (["serve"], ["worker"])
    assert all(option in shown.output for option in options), (options, shown.output)


def test_the_worker_restarts_always_and_the_web_app_listens_where_the_proxies_point():
    assert unit("mailer-worker.service")["Service"]["Restart"] == "always"
    args = shlex.split(unit("mailer-web.service")["Service"]["ExecStart"])
    listen = f"{args[args.index('--host') + 1]}:{args[args.index('--port') + 1]}"
    assert listen == "127.0.0.1:8000"
    nginx = (EXAMPLES / "nginx-mailer.conf").read_text(encoding="utf-8")
    assert nginx.count("{") == nginx.count("}")
    assert f"proxy_pass http://{listen};" in nginx and "listen 443 ssl;" in nginx
    assert "X-Forwarded-Proto" in nginx and "client_max_body_size 2m;" in nginx and "access_log off;" in nginx
    caddy = (EXAMPLES / "Caddyfile").read_text(encoding="utf-8")
    assert caddy.count("{") == caddy.count("}") and f"reverse_proxy {listen}" in caddy


def test_the_example_environment_is_a_valid_configuration(tmp_path):
    environment = example_environment()
    known = {env_name(key) for key in PARSERS} | {"MAILER_INSTANCE_PATH"}
    assert set(environment) <= known, set(environment) - known
    environment["MAILER_INSTANCE_PATH"] = str(tmp_path)  # the only path that must exist
    settings = load_settings(environ=environment)
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.base_url.startswith("https://") and settings.smtp_url.startswith("smtp://")
    assert settings.ratelimit_storage_url.startswith("redis://")  # needed by --workers 2 in the web unit


def test_dns_records_for_spf_dkim_and_dmarc():
    zone = (EXAMPLES / "dns-records.zone").read_text(encoding="utf-8")
    domain = re.search(r"@([\w.-]+)>", example_environment()["MAILER_FROM"]).group(1)
    records = [line.split(None, 3) for line in zone.splitlines() if line and not line.startswith(";")]
    by_name = {name.rstrip("."): (kind, value) for name, _in, kind, value in records}
    assert by_name[domain][1].startswith('"v=spf1 ') and by_name[domain][1].endswith(' -all"')
    assert by_name[f"_dmarc.{domain}"][1].startswith('"v=DMARC1; p=')
    assert any(name.endswith(f"._domainkey.{domain}") for name in by_name)


def test_the_guide_links_every_example_and_only_existing_ones():
    guide = (DOCS / "deploy.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\(examples/([^)]+)\)", guide))
    assert linked == {p.name for p in EXAMPLES.iterdir()}
