"""Settings: `instance/config.toml`, overridden by `MAILER_*` environment variables.

Everything is parsed and checked once, at start, so that a typo in a setting
stops `mailer serve` or `mailer worker` immediately with the setting's name,
instead of surfacing at send time halfway through a campaign.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from email.headerregistry import Address
from email.utils import getaddresses
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from email_validator import EmailNotValidError, validate_email

CONFIG_FILE = "config.toml"
LANGUAGES = ("sv", "en")
# Per client address, for every public page together (answer, unsubscribe, evaluation).
# Generous enough for an office behind one NAT address, tight enough that nobody can
# flood the forms; raise it when a proxy makes every visitor one address.
DEFAULT_PUBLIC_RATE_LIMIT = "120 per minute;1000 per hour"
# Per API token (per client address without one): a sync script paging through a few thousand
# contacts fits; a runaway loop is stopped.
DEFAULT_API_RATE_LIMIT = "300 per minute;10000 per hour"


# Per client address, for sending the public sign-up form (on top of public_rate_limit).
DEFAULT_SIGNUP_RATE_LIMIT = "5 per minute;20 per hour"


DEFAULT_BACKUP_CRON = "0 3 * * *"  # every night at 03:00 local time


@dataclass(frozen=True)
class BackupKeep:
    """How many backups the backup folder keeps: the newest of each of the last `daily` days
    and of each of the last `weekly` weeks (ISO weeks); older ones are deleted."""

    daily: int = 7
    weekly: int = 4

    def __str__(self) -> str:
        return f"{self.daily} daily, {self.weekly} weekly"


class ConfigError(Exception):
    """A setting is missing or malformed; `setting` is the environment variable name.

    `message` is English. Where a catalog text exists, `code` and `params` name it
    ("error.config.<code>"): this layer cannot reach the catalogs, so mailer.errors.ConfigProblem
    renders it for the CLI and `mailer doctor`.
    """

    def __init__(self, setting: str, message: str, code: str | None = None, **params: Any):
        super().__init__(f"{setting}: {message}")
        self.setting, self.code, self.params = setting, code, params


@dataclass(frozen=True)
class Settings:
    instance_path: Path
    database_url: str
    secret_key: str
    base_url: str
    mail_from: Address
    smtp_url: str | None = None
    staff_emails: tuple[str, ...] = ()
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Stockholm"))
    language: str = "sv"
    old_secret_keys: tuple[str, ...] = ()
    templates_path: Path | None = None
    send_rate_per_minute: int = 600
    send_limit_per_hour: int | None = None  # the relay's own limits (docs/sending.md); None: no limit
    send_limit_per_day: int | None = None
    send_batch_size: int = 100
    grace_period_hours: int = 24
    digest_cron: str = "mon 08:00"
    smtp_timeout: float = 30.0  # seconds for each SMTP command's reply
    smtp_connect_timeout: float = 10.0  # seconds for the connection and the server's greeting
    retention_months: int = 24
    ratelimit_storage_url: str = "memory://"
    public_rate_limit: str = DEFAULT_PUBLIC_RATE_LIMIT
    api_rate_limit: str = DEFAULT_API_RATE_LIMIT
    proxy_count: int = 0  # reverse proxies in front whose X-Forwarded-* headers are trusted
    bounce_address: str | None = None  # envelope sender, tagged per message (VERP); None: the From address
    bounce_imap_url: str | None = None  # mailbox the worker reads bounces from; None: not read
    soft_bounce_limit: int = 3  # soft bounces within 30 days that suppress an address
    max_message_bytes: int = 10 * 1024 * 1024  # a rendered message larger than this is refused
    max_upload_mb: int = 50  # the largest contact list staff may upload
    backup_cron: str = DEFAULT_BACKUP_CRON
    backup_keep: BackupKeep = field(default_factory=lambda: BackupKeep())
    signup_embed_origins: tuple[str, ...] = ()  # sites that may show the sign-up page in a frame
    signup_rate_limit: str = DEFAULT_SIGNUP_RATE_LIMIT
    signup_min_seconds: int = 3  # a sign-up form sent sooner after it was shown is a bot's
    webhook_allow_private: bool = False  # webhooks may reach localhost and private networks (docs/webhooks.md)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def backups_path(self) -> Path:
        """Where `mailer backup` and the scheduled backups write by default."""
        return self.instance_path / "backups"

    @property
    def outbox_path(self) -> Path:
        return self.instance_path / "outbox"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


# setting name (TOML key; the environment variable is MAILER_ + upper case) -> parser
def _str(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(env_name(name), "must be a non-empty string")
    return value.strip()


def _int(name: str, value: Any, minimum: int = 1) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(env_name(name), f"must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(env_name(name), f"must be at least {minimum}, got {number}")
    return number


def _limit(name: str, value: Any) -> int | None:
    """A count that may be left unset (no limit): absent, empty or 0 in the environment."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "0")) or value == 0:
        return None
    return _int(name, value)


def _secret_key(name: str, value: Any) -> str:
    key = _str(name, value)
    if len(key) < 16:
        raise ConfigError(env_name(name), "is too short (at least 16 characters); `mailer init` generates one")
    return key


def _key_list(name: str, value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ConfigError(env_name(name), "must be a list of keys (comma-separated in the environment)")
    return tuple(_secret_key(name, item) for item in items if str(item).strip())


def _database_url(name: str, value: Any) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = _str(name, value)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(env_name(name), f"not a database URL: {exc}") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):  # else create_engine fails with a traceback
        raise ConfigError(
            env_name(name), f"unsupported database {parsed.drivername!r}; use sqlite:///… or postgresql://…"
        )
    return url


def _base_url(name: str, value: Any) -> str:
    url = _str(name, value).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(env_name(name), f"must be an http:// or https:// URL, got {value!r}")
    return url


def _smtp_url(name: str, value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    url = _str(name, value)
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(env_name(name), "must look like smtp://[user:pass@]host[:port] or smtps://…")
    try:
        _ = parts.port  # urlsplit checks the port only when it is read
    except ValueError:
        raise ConfigError(env_name(name), "has an invalid port") from None
    return url


def _address(name: str, value: Any) -> Address:
    text = _str(name, value)
    pairs = getaddresses([text])
    if len(pairs) != 1 or not pairs[0][1]:
        raise ConfigError(env_name(name), f"must be one address like 'Ax <info@example.org>', got {text!r}")
    display, addr = pairs[0]
    try:
        valid = validate_email(addr, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ConfigError(env_name(name), f"{addr!r} is not a valid address: {exc}") from None
    return Address(display_name=display, addr_spec=valid.normalized)


def _email_list(name: str, value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ConfigError(env_name(name), "must be a list of addresses (comma-separated in the environment)")
    result = []
    for item in items:
        item = str(item).strip()
        if not item:
            continue
        try:
            result.append(validate_email(item, check_deliverability=False).normalized)
        except EmailNotValidError as exc:
            raise ConfigError(env_name(name), f"{item!r} is not a valid address: {exc}") from None
    return tuple(result)


def _bounce_address(name: str, value: Any) -> str | None:
    """A plain address whose local part can take a +tag: bounces@ax.example.org."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = _str(name, value)
    try:
        valid = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ConfigError(env_name(name), f"{text!r} is not a valid address: {exc}") from None
    if "+" in valid.local_part or not valid.local_part.isascii() or len(valid.local_part) > 32:
        raise ConfigError(
            env_name(name),
            f"{text!r}: the local part must be a short ASCII name without '+' "
            "(a tag is added after it, e.g. bounces+tag@…)",
        )
    return f"{valid.local_part}@{valid.ascii_domain}"


def _imap_url(name: str, value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    url = _str(name, value)
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
        raise ConfigError(env_name(name), "must look like imaps://user:password@host[:port]/INBOX (or imap://…)")
    try:
        _ = parts.port  # urlsplit checks the port only when it is read
    except ValueError:
        raise ConfigError(env_name(name), "has an invalid port") from None
    return url


def _timezone(name: str, value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(_str(name, value))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as 'Europe'
        raise ConfigError(env_name(name), f"unknown time zone {value!r} (e.g. Europe/Stockholm)") from None


def _language(name: str, value: Any) -> str:
    lang = _str(name, value).lower()
    if lang not in LANGUAGES:
        raise ConfigError(env_name(name), f"must be one of {', '.join(LANGUAGES)}, got {value!r}")
    return lang


def _path(name: str, value: Any) -> Path | None:
    if value is None or value == "":
        return None
    path = Path(_str(name, value)).expanduser()
    if not path.is_dir():
        raise ConfigError(env_name(name), f"folder {str(path)!r} does not exist")
    return path


def _cron(name: str, value: Any) -> str:
    """'mon 08:00' (weekday and time) or a 5-field crontab expression."""
    text = _str(name, value)
    try:
        cron_trigger(text, ZoneInfo("UTC"))
    except ValueError as exc:
        raise ConfigError(env_name(name), f"{text!r}: {exc}") from None
    return text


def _float(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(env_name(name), f"must be a number, got {value!r}") from None
    if number <= 0:
        raise ConfigError(env_name(name), "must be positive")
    return number


RATELIMIT_SCHEMES = (
    "memory",
    "redis",
    "rediss",
    "redis+unix",
    "redis+cluster",
    "redis+sentinel",
    "valkey",
    "valkeys",
    "valkey+unix",
    "valkey+cluster",
    "valkey+sentinel",
    "memcached",
    "mongodb",
    "mongodb+srv",
)


def _storage_url(name: str, value: Any) -> str:
    """Where the rate limits keep their counters (mailer.web.ratelimit); only a shared store holds a limit across processes."""
    url = _str(name, value)
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in RATELIMIT_SCHEMES:
        raise ConfigError(env_name(name), f"must be memory:// or a shared store like redis://host:6379, got {url!r}")
    return url


def _rate_limit(name: str, value: Any) -> str:
    """A rate limit such as '120 per minute;1000 per hour', checked with `limits`."""
    from limits import parse_many

    text = _str(name, value)
    try:
        items = parse_many(text)
    except ValueError as exc:
        raise ConfigError(
            env_name(name), f"{text!r} is not a rate limit like '120 per minute;1000 per hour' ({exc})"
        ) from None
    if any(item.amount < 1 for item in items):
        raise ConfigError(env_name(name), f"{text!r}: every limit must allow at least 1 request")
    return text


def _origin_list(name: str, value: Any) -> tuple[str, ...]:
    """Web origins such as https://www.example.org (scheme, host, port; no path)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ConfigError(env_name(name), "must be a list of origins (comma-separated in the environment)")
    result = []
    for item in items:
        text = str(item).strip().rstrip("/")
        if not text:
            continue
        parts = urlsplit(text)
        if (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or parts.path
            or parts.query
            or any(char in text for char in " ;'\"")
        ):
            raise ConfigError(env_name(name), f"{text!r} is not an origin like https://www.example.org")
        result.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return tuple(result)


def _backup_keep(name: str, value: Any) -> BackupKeep:
    """'7 daily, 4 weekly' (either part may be left out: it is then 0)."""
    text = _str(name, value).lower()
    counts = {"daily": 0, "weekly": 0}
    for part in text.replace(";", ",").split(","):
        words = part.split()
        if len(words) != 2 or not words[0].isdigit() or words[1] not in counts:
            raise ConfigError(env_name(name), f"{value!r} is not like '7 daily, 4 weekly'")
        counts[words[1]] = int(words[0])
    if not any(counts.values()):
        raise ConfigError(env_name(name), "must keep at least one backup (e.g. '7 daily, 4 weekly')")
    return BackupKeep(**counts)


def _switch(name: str, value: Any) -> bool:
    """true/false (TOML), or 1/0, yes/no, true/false, on/off in the environment."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(env_name(name), f"must be true or false, got {value!r}")


def cron_trigger(text: str, tz: ZoneInfo) -> CronTrigger:
    parts = text.split()
    if len(parts) == 2 and ":" in parts[1]:
        hour, _, minute = parts[1].partition(":")
        return CronTrigger(day_of_week=parts[0], hour=int(hour), minute=int(minute), timezone=tz)
    if len(parts) != 5:
        raise ValueError("expected 'mon 08:00' or five crontab fields (minute hour day month weekday)")
    minute, hour, day, month, weekday = parts
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=_crontab_weekdays(weekday), timezone=tz
    )


CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _crontab_weekdays(field: str) -> str:
    """A crontab weekday field (0 or 7 = Sunday) as APScheduler 3 day names.

    APScheduler 3 numbers weekdays from Monday = 0, and its `from_crontab` passes the
    numbers through unchanged, so `0 8 * * 1` (Monday in every crontab) would fire
    on Tuesdays. Numbers, names, ranges, lists and steps are expanded to names.
    """
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for item in field.split(","):
        spec, _, step = item.partition("/")
        if spec == "*":
            first, last = 0, 6
        elif "-" in spec:
            first, last = (_crontab_day(part) for part in spec.split("-", 1))
        else:
            first = last = _crontab_day(spec)
            if step:
                last = 6
        if last < first:
            last += 7  # fri-mon wraps over the week's end
        if step and not step.isdigit() or step == "0":
            raise ValueError(f"weekday step {step!r} is not a positive whole number")
        days.update(day % 7 for day in range(first, last + 1, int(step or 1)))
    return ",".join(CRON_DAYS[day] for day in sorted(days))


def _crontab_day(text: str) -> int:
    if text.isdigit() and int(text) <= 7:
        return int(text) % 7
    if text.lower()[:3] in CRON_DAYS:
        return CRON_DAYS.index(text.lower()[:3])
    raise ValueError(f"{text!r} is not a weekday (0-7 or sun-sat)")


# Each setting's parser: (setting name, raw value) -> the typed value, or ConfigError.
PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "database_url": _database_url,
    "secret_key": _secret_key,
    "old_secret_keys": _key_list,
    "base_url": _base_url,
    "smtp_url": _smtp_url,
    "from": _address,
    "staff_emails": _email_list,
    "timezone": _timezone,
    "language": _language,
    "templates_path": _path,
    "send_rate_per_minute": _int,
    "send_limit_per_hour": _limit,
    "send_limit_per_day": _limit,
    "send_batch_size": _int,
    "grace_period_hours": _int,
    "digest_cron": _cron,
    "smtp_timeout": _float,
    "smtp_connect_timeout": _float,
    "retention_months": _int,
    "ratelimit_storage_url": _storage_url,
    "public_rate_limit": _rate_limit,
    "api_rate_limit": _rate_limit,
    "proxy_count": lambda name, value: _int(name, value, minimum=0),
    "bounce_address": _bounce_address,
    "bounce_imap_url": _imap_url,
    "soft_bounce_limit": _int,
    "max_message_bytes": lambda name, value: _int(name, value, minimum=10_000),
    "max_upload_mb": _int,
    "backup_cron": _cron,
    "backup_keep": _backup_keep,
    "signup_embed_origins": _origin_list,
    "signup_rate_limit": _rate_limit,
    "signup_min_seconds": lambda name, value: _int(name, value, minimum=0),
    "webhook_allow_private": _switch,
}
REQUIRED = ("secret_key", "base_url", "from")


def env_name(key: str) -> str:
    return "MAILER_" + key.upper()


def instance_path_from_env(environ: Mapping[str, str] | None = None) -> Path:
    variables = os.environ if environ is None else environ
    return Path(variables.get("MAILER_INSTANCE_PATH") or "instance").expanduser().resolve()


def default_templates_path() -> Path | None:
    """The checkout's templates/email/ when run from a checkout, else None (packaged copy)."""
    candidate = Path.cwd() / "templates" / "email"
    return candidate if candidate.is_dir() else None


def load_settings(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read config.toml, then the environment, then `overrides` (tests), and validate all."""
    environ = dict(os.environ if environ is None else environ)
    overrides = dict(overrides or {})
    instance_path = Path(overrides.pop("instance_path", None) or instance_path_from_env(environ))

    raw: dict[str, Any] = {}
    config_file = instance_path / CONFIG_FILE
    if config_file.exists():
        try:
            raw.update(tomllib.loads(config_file.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(str(config_file), f"cannot be read: {exc}") from None
    unknown = set(raw) - set(PARSERS)
    if unknown:
        raise ConfigError(str(config_file), f"unknown setting(s): {', '.join(sorted(unknown))}")
    for key in PARSERS:
        if env_name(key) in environ:
            raw[key] = environ[env_name(key)]
    raw.update(overrides)

    missing = [key for key in REQUIRED if raw.get(key) in (None, "")]
    if missing:
        raise ConfigError(
            env_name(missing[0]),
            f"is not set (in {config_file} or the environment); `mailer init` writes a config",
            "missing",
            path=str(config_file),
        )
    values = {key: PARSERS[key](key, raw[key]) for key in raw if key in PARSERS}
    values["mail_from"] = values.pop("from")
    values.setdefault("database_url", f"sqlite:///{instance_path / 'mailer.sqlite'}")
    if "templates_path" not in values:
        values["templates_path"] = default_templates_path()
    return Settings(instance_path=instance_path, **values)
