"""Configuration from the environment: every setting is MEGURI_<NAME>.

Defaults run Meguri on its own (SQLite, embedded search, invoice payments,
console mail, embedded job queue); production switches backends by setting
variables, and a chosen backend that lacks its settings fails at start-up.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

PREFIX = "MEGURI_"
LOCALES = ("ja", "en")  # Japanese first: the default for anyone who has not chosen


class ConfigError(RuntimeError):
    """A setting is missing or malformed; raised at start-up, never per request."""


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


# name -> (default, parser). Defaults that depend on the instance path are filled in later.
SETTINGS: dict[str, tuple[object, object]] = {
    "SECRET_KEY": (None, str),
    "DATABASE_URL": (None, str),
    "REDIS_URL": (None, str),
    "INSTANCE_DIR": (None, str),
    "UPLOAD_DIR": (None, str),
    "SEARCH": ("embedded", str),
    "MEILI_URL": (None, str),
    "MEILI_KEY": (None, str),
    "PAYMENTS": ("invoice", str),
    "STRIPE_SECRET_KEY": (None, str),
    "STRIPE_WEBHOOK_SECRET": (None, str),
    "STRIPE_API_BASE": (None, str),
    "MAILER": ("console", str),
    "SMTP_HOST": (None, str),
    "SMTP_PORT": (25, int),
    "MAIL_FROM": ("noreply@meguri.example", str),
    "TILE_URL": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", str),
    "TILE_ATTRIBUTION": ("&copy; OpenStreetMap contributors", str),
    "MAX_UPLOAD_BYTES": (10 * 1024 * 1024, int),
    "MAX_IMAGE_PIXELS": (40_000_000, int),
    "THUMBNAIL_SIZE": (480, int),
    "SECURE_COOKIES": (True, _bool),
    "JOBS_IMMEDIATE": (False, _bool),
    # A running job whose worker has not written a heartbeat for this long is re-queued.
    "JOB_STALE_SECONDS": (120, int),
    "PLATFORM_FEE_PERCENT": (3, int),
    # Where users reach the site (https://meguri.example.jp): links in mails sent by jobs.
    "PUBLIC_URL": (None, str),
    # The platform as the issuer of its monthly fee statements to payees.
    "PLATFORM_NAME": ("めぐり運営事務局", str),
    "PLATFORM_ADDRESS": ("", str),
    "PLATFORM_INVOICE_REGISTRATION_NO": (None, str),  # T + 13 digits; without it a plain 請求書
    "LOG_FORMAT": ("json", str),
    "PROXIES": (0, int),  # how many trusted proxies (load balancers) sit in front
    "RATE_LIMITS": (True, _bool),
}


def from_environ(environ: dict[str, str] | None = None) -> dict[str, object]:
    """Read every MEGURI_ setting, parse it and return Flask config keys."""
    environ = os.environ if environ is None else environ
    config: dict[str, object] = {}
    for name, (default, parse) in SETTINGS.items():
        raw = environ.get(PREFIX + name)
        if raw is None or raw == "":
            config[name] = default
            continue
        try:
            config[name] = parse(raw)  # type: ignore[operator]
        except ValueError as exc:
            raise ConfigError(f"{PREFIX}{name}: cannot read {raw!r} ({exc})") from exc
    return config


def finalise(config: dict[str, object], instance_path: str) -> None:
    """Fill derived defaults and fail fast on incomplete backend choices."""
    instance = Path(config.get("INSTANCE_DIR") or instance_path)
    config["INSTANCE_DIR"] = str(instance)
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = f"sqlite:///{instance / 'meguri.db'}"
    if not config.get("UPLOAD_DIR"):
        config["UPLOAD_DIR"] = str(instance / "uploads")
    if not config.get("SECRET_KEY"):
        key_file = instance / "secret_key"
        instance.mkdir(parents=True, exist_ok=True)
        if not key_file.exists():
            key_file.write_text(secrets.token_hex(32))
            key_file.chmod(0o600)
        config["SECRET_KEY"] = key_file.read_text().strip()

    if config["SEARCH"] not in {"embedded", "meilisearch"}:
        raise ConfigError(
            f"{PREFIX}SEARCH: must be 'embedded' or 'meilisearch', not {config['SEARCH']!r}"
        )
    if config["SEARCH"] == "meilisearch" and not config.get("MEILI_URL"):
        raise ConfigError(f"{PREFIX}SEARCH=meilisearch needs {PREFIX}MEILI_URL")
    if config["PAYMENTS"] not in {"invoice", "stripe"}:
        raise ConfigError(
            f"{PREFIX}PAYMENTS: must be 'invoice' or 'stripe', not {config['PAYMENTS']!r}"
        )
    if config["PAYMENTS"] == "stripe":
        for needed in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
            if not config.get(needed):
                raise ConfigError(f"{PREFIX}PAYMENTS=stripe needs {PREFIX}{needed}")
    registration = config.get("PLATFORM_INVOICE_REGISTRATION_NO")
    if registration and not re.fullmatch(r"T\d{13}", str(registration)):
        raise ConfigError(
            f"{PREFIX}PLATFORM_INVOICE_REGISTRATION_NO: must be T followed by 13 digits"
        )
    if int(config["JOB_STALE_SECONDS"]) < 2:
        raise ConfigError(f"{PREFIX}JOB_STALE_SECONDS: must be at least 2 seconds")
    if config["LOG_FORMAT"] not in {"json", "text"}:
        raise ConfigError(
            f"{PREFIX}LOG_FORMAT: must be 'json' or 'text', not {config['LOG_FORMAT']!r}"
        )
    if config["MAILER"] not in {"console", "smtp"}:
        raise ConfigError(f"{PREFIX}MAILER: must be 'console' or 'smtp', not {config['MAILER']!r}")
    if config["MAILER"] == "smtp" and not config.get("SMTP_HOST"):
        raise ConfigError(f"{PREFIX}MAILER=smtp needs {PREFIX}SMTP_HOST")

    # Flask's own keys, derived from ours.
    config["MAX_CONTENT_LENGTH"] = int(config["MAX_UPLOAD_BYTES"]) * 4  # several photos per form
    config["SESSION_COOKIE_SECURE"] = bool(config["SECURE_COOKIES"])
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["REMEMBER_COOKIE_SECURE"] = bool(config["SECURE_COOKIES"])
    config["REMEMBER_COOKIE_HTTPONLY"] = True
    config["BABEL_DEFAULT_LOCALE"] = "ja"
    config["BABEL_DEFAULT_TIMEZONE"] = "Asia/Tokyo"
    config["WTF_CSRF_TIME_LIMIT"] = None
    config["RATELIMIT_ENABLED"] = bool(config["RATE_LIMITS"])
