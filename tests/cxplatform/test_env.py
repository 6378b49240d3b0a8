"""Bad environment variables stop start-up with one line naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cxplatform.env import ConfigError, _Config

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/cx",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SECRET_KEY": "x" * 50,
}


@pytest.fixture
def config(monkeypatch):
    for name in ["DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "TIME_ZONE", "EMAIL_URL"]:
        monkeypatch.delenv(name, raising=False)
    return _Config()


@pytest.mark.parametrize(
    ("name", "value", "reader", "expected"),
    [
        ("DATABASE_URL", None, "database", "DATABASE_URL is not set"),
        ("DATABASE_URL", "mysql://u@h/db", "database", "DATABASE_URL has scheme 'mysql'"),
        ("DATABASE_URL", "postgres://u@h:5432/", "database", "DATABASE_URL names no database"),
        ("REDIS_URL", "http://x", "redis", "REDIS_URL has scheme 'http'"),
        ("REDIS_URL", "redis://:6379", "redis", "REDIS_URL names no host"),
        ("REDIS_URL", "redis://h:port/0", "redis", "REDIS_URL has a malformed port"),
        ("SECRET_KEY", "short", "secret_key", "SECRET_KEY is too short"),
        ("DEBUG", "maybe", "bool", "DEBUG is 'maybe', not a boolean"),
        ("TIME_ZONE", "Mars/Olympus", "time_zone", "TIME_ZONE is 'Mars/Olympus', not an IANA"),
        ("EMAIL_URL", "pigeon://coop", "email", "EMAIL_URL is malformed"),
    ],
)
def test_bad_variable_is_named_in_one_line(config, monkeypatch, name, value, reader, expected):
    if value is not None:
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        getattr(config, reader)(name)
    message = str(error.value)
    assert expected in message
    assert "\n" not in message


def test_unix_socket_database_url_gives_socket_directory(config, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@%2Ftmp%2Fcx%2Fpg/cx")
    assert config.database("DATABASE_URL")["HOST"] == "/tmp/cx/pg"


def test_unix_socket_redis_url_is_spelled_for_celery(config):
    assert config.celery_broker("unix:///tmp/r.sock?db=0") == "redis+socket:///tmp/r.sock?db=0"
    assert config.celery_backend("unix:///tmp/r.sock") == "redis+socket:///tmp/r.sock"


@pytest.mark.slow
def test_manage_py_prints_one_line_for_a_bad_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in GOOD}
    env.update(GOOD, DATABASE_URL="sqlite:///cx.db")
    # Run outside the repo so the .cx/env file of a running stack is not read.
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: Environment variable DATABASE_URL has scheme 'sqlite'; CX Platform needs "
        "PostgreSQL. Use postgres://USER:PASSWORD@HOST:PORT/NAME."
    ]


@pytest.mark.slow
def test_production_settings_pass_the_deploy_check(tmp_path):
    env = {
        **os.environ,
        **GOOD,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "cx.example.com",
        "SECRET_KEY": "k" + "Zq8#w!e2R7t^y5Ux0iOp3aSdF6gHjK9lLzXcV1bNm4Q-" * 2,
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
