"""Read configuration from the environment, failing with one clear line per bad variable.

django-environ does the parsing; this module only turns its many error types into one
`ImproperlyConfigured("NAME ...")` message, which `manage.py`, WSGI and Celery print as a
single line instead of a traceback.
"""

from __future__ import annotations

import os
import zoneinfo
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

_env = environ.Env()


class ConfigError(ImproperlyConfigured):
    """A missing or malformed environment variable; str() is the one line to show."""


def _fail(name: str, problem: str, hint: str = "") -> ConfigError:
    line = f"Environment variable {name} {problem}."
    if hint:
        line += f" {hint}"
    return ConfigError(line)


class _Config:
    _missing = object()

    def read_env_file(self, path: Path) -> None:
        if path.is_file():
            environ.Env.read_env(str(path), overwrite=False)

    def _raw(self, name: str, default: Any) -> Any:
        value = os.environ.get(name)
        if value is None or value == "":
            if default is self._missing:
                raise _fail(name, "is not set", "See README.md, 'Configuration'.")
            return default
        return value

    def str(self, name: str, default: Any = _missing) -> Any:
        return self._raw(name, default)

    def bool(self, name: str, default: Any = _missing) -> bool:
        value = self._raw(name, default)
        if isinstance(value, bool):
            return value
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise _fail(name, f"is {value!r}, not a boolean", "Use 1/0, true/false, yes/no or on/off.")

    def int(self, name: str, default: Any = _missing) -> int:
        value = self._raw(name, default)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _fail(name, f"is {value!r}, not a whole number") from None

    def list(self, name: str, default: Any = _missing) -> list[str]:
        value = self._raw(name, default)
        if isinstance(value, list):
            return value
        return [item.strip() for item in value.split(",") if item.strip()]

    def path(self, name: str, default: Any = _missing) -> Path:
        return Path(self._raw(name, default))

    def secret_key(self, name: str) -> str:
        value = self._raw(name, self._missing)
        if len(value) < 32:
            raise _fail(
                name,
                "is too short (fewer than 32 characters)",
                "Generate one with `python -c 'import secrets; print(secrets.token_urlsafe(50))'`.",
            )
        return value

    def time_zone(self, name: str, default: Any = _missing) -> str:
        value = self._raw(name, default)
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise _fail(
                name,
                f"is {value!r}, not an IANA time zone",
                "Use a name like 'Europe/Berlin' or 'UTC'.",
            ) from None
        return value

    def database(self, name: str) -> dict[str, Any]:
        value = self._raw(name, self._missing)
        scheme = urlsplit(value).scheme
        if scheme not in {"postgres", "postgresql", "pgsql"}:
            raise _fail(
                name,
                f"has scheme {scheme or '(none)'!r}; CX Platform needs PostgreSQL",
                "Use postgres://USER:PASSWORD@HOST:PORT/NAME.",
            )
        try:
            parsed = _env.db_url_config(value)
        except Exception as exc:  # django-environ raises several types for bad URLs
            raise _fail(name, f"is malformed ({exc})") from None
        # A Unix-socket directory arrives percent-encoded in the host (postgres://u@%2Ftmp/db)
        # or as ?host=/tmp; psycopg wants the plain path.
        socket_dir = parse_qs(urlsplit(value).query).get("host")
        parsed["HOST"] = socket_dir[0] if socket_dir else unquote(str(parsed.get("HOST") or ""))
        parsed.get("OPTIONS", {}).pop("host", None)
        if not parsed.get("NAME"):
            raise _fail(name, "names no database", "Add /DATABASE_NAME to the URL.")
        return parsed

    def redis(self, name: str) -> str:
        value = self._raw(name, self._missing)
        parts = urlsplit(value)
        if parts.scheme not in {"redis", "rediss", "unix"}:
            raise _fail(
                name,
                f"has scheme {parts.scheme or '(none)'!r}; expected redis://, rediss:// or unix://",
            )
        if parts.scheme == "unix" and not parts.path:
            raise _fail(name, "names no socket path", "Use unix:///path/to/redis.sock.")
        if parts.scheme != "unix" and not parts.hostname:
            raise _fail(name, "names no host", "Use redis://HOST:6379/0.")
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise _fail(name, "has a malformed port") from None
        return value

    def email(self, name: str, default: Any = _missing) -> dict[str, Any]:
        value = self._raw(name, default)
        try:
            parsed = _env.email_url_config(value)
        except Exception as exc:
            raise _fail(name, f"is malformed ({exc})") from None
        if not parsed.get("EMAIL_BACKEND"):
            raise _fail(
                name,
                f"has an unknown scheme in {value!r}",
                "Use smtp://, smtps://, consolemail:// or filemail://.",
            )
        return parsed

    @staticmethod
    def celery_broker(redis_url: str) -> str:
        """Celery spells Unix sockets differently from redis-py: redis+socket:// ."""
        if redis_url.startswith("unix://"):
            return "redis+socket://" + redis_url.removeprefix("unix://")
        return redis_url

    @staticmethod
    def celery_backend(redis_url: str) -> str:
        if redis_url.startswith("unix://"):
            return "redis+socket://" + redis_url.removeprefix("unix://")
        return redis_url


config = _Config()
