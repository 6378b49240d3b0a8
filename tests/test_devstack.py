"""The dev stack runner (cxplatform.devstack): its pure helpers, and one real embedded stack.

None of these tests touch the database of the test session; the slow one starts its own
PostgreSQL and Redis in a temporary directory with the same functions `make run` uses.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import environ
import psycopg
import pytest
import redis

from cxplatform import devstack
from cxplatform.env import config


@pytest.fixture
def dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def sleeper():
    """Start a live process with the given words on its command line; killed afterwards."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*words: str) -> int:
        code = "import time; time.sleep(60)"
        proc = subprocess.Popen([sys.executable, "-c", code, *words])
        procs.append(proc)
        return proc.pid

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


# URLs: the contract with cxplatform.env -------------------------------------------------------


def test_postgres_url_puts_the_socket_dir_percent_encoded_in_the_host(monkeypatch):
    url = devstack.postgres_url(Path("/srv/my checkout/.cx/postgres"))

    assert url == "postgres://postgres@%2Fsrv%2Fmy%20checkout%2F.cx%2Fpostgres/cx"
    monkeypatch.setenv("DEVSTACK_TEST_DB", url)
    parsed = config.database("DEVSTACK_TEST_DB")
    assert parsed["HOST"] == "/srv/my checkout/.cx/postgres"
    assert parsed["NAME"] == "cx"
    assert parsed["USER"] == "postgres"


def test_postgres_url_names_a_non_default_port():
    assert devstack.postgres_url(Path("/s"), "db", 5433) == "postgres://postgres@%2Fs:5433/db"


def test_redis_url_is_a_unix_url_that_settings_accept(monkeypatch):
    url = devstack.redis_url(Path("/srv/app/.cx/redis/redis.sock"))

    assert url == "unix:///srv/app/.cx/redis/redis.sock?db=0"
    monkeypatch.setenv("DEVSTACK_TEST_REDIS", url)
    assert config.redis("DEVSTACK_TEST_REDIS") == url
    assert config.celery_broker(url) == "redis+socket:///srv/app/.cx/redis/redis.sock?db=0"


def test_redis_socket_lives_in_its_data_dir_unless_the_path_is_too_long():
    short = Path("/srv/app/.cx/redis")
    assert devstack.redis_socket_path(short) == short / "redis.sock"

    deep = Path("/srv/" + "nested/" * 20 + ".cx/redis")
    fallback = devstack.redis_socket_path(deep)
    assert len(str(fallback)) <= devstack.MAX_SOCKET_PATH
    assert fallback == devstack.redis_socket_path(deep)  # stable between runs
    assert fallback != devstack.redis_socket_path(deep.parent / "test-redis")


def test_profiles_keep_dev_and_test_data_apart(tmp_path):
    dev, test = devstack.profile("dev", tmp_path), devstack.profile("test", tmp_path)

    assert dev.postgres_dir == tmp_path / "postgres"
    assert dev.lock_file == tmp_path / "run.lock"
    assert test.postgres_dir == tmp_path / "test-postgres"
    assert test.redis_dir == tmp_path / "test-redis"
    assert {dev.lock_file, dev.redis_dir}.isdisjoint({test.lock_file, test.redis_dir})


def test_redis_config_listens_on_the_socket_only_and_persists(tmp_path):
    text = devstack.redis_config(tmp_path, tmp_path / "redis.sock")

    assert "port 0" in text.splitlines()
    assert f'unixsocket "{tmp_path / "redis.sock"}"' in text
    assert f'dir "{tmp_path}"' in text
    assert "appendonly yes" in text


# Ports ----------------------------------------------------------------------------------------


def test_port_in_use_detects_a_listener():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        assert devstack.port_in_use(port)


def test_port_in_use_is_false_for_a_free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    assert not devstack.port_in_use(port)


def test_port_in_use_message_suggests_the_next_port():
    assert devstack.port_in_use_message(8000) == (
        "Port 8000 is in use (by another `make run`?). Stop it or run `make run PORT=8001`."
    )


@pytest.mark.parametrize(("value", "port"), [(None, 8000), ("", 8000), ("8001", 8001)])
def test_parse_port(value, port):
    assert devstack.parse_port(value) == port


@pytest.mark.parametrize("value", ["abc", "0", "70000"])
def test_parse_port_rejects_bad_values(value):
    with pytest.raises(devstack.StackError, match="PORT is"):
        devstack.parse_port(value)


# The runner lock ------------------------------------------------------------------------------


def test_lock_of_a_dead_runner_is_recovered(tmp_path, dead_pid):
    lock = tmp_path / "run.lock"
    lock.write_text(f"{dead_pid}\n")
    notes: list[str] = []

    recovered = devstack.acquire_lock(lock, "make run", notes.append)

    assert recovered == dead_pid
    assert notes == [f"A previous run (pid {dead_pid}) did not shut down cleanly; recovering."]
    assert lock.read_text() == f"{os.getpid()}\n"
    devstack.release_lock(lock)
    assert not lock.exists()


def test_lock_of_a_live_runner_refuses(tmp_path, sleeper):
    pid = sleeper("cxplatform.devstack", "run")
    lock = tmp_path / "run.lock"
    lock.write_text(f"{pid}\n")

    with pytest.raises(devstack.StackError, match=rf"already running \(pid {pid}"):
        devstack.acquire_lock(lock, "make run", print)

    assert lock.read_text() == f"{pid}\n"
    devstack.release_lock(lock)  # not ours: left alone
    assert lock.exists()
    assert devstack.lock_holder(lock) == pid


def test_lock_whose_pid_was_reused_by_another_program_is_stale(tmp_path, sleeper):
    pid = sleeper("something-else")
    lock = tmp_path / "run.lock"
    lock.write_text(f"{pid}\n")

    assert devstack.lock_holder(lock) is None
    assert devstack.acquire_lock(lock, "make run", lambda _: None) == pid


def test_unreadable_lock_is_replaced(tmp_path):
    lock = tmp_path / "run.lock"
    lock.write_text("garbage")
    notes: list[str] = []

    assert devstack.acquire_lock(lock, "make run", notes.append) is None
    assert "unreadable lock" in notes[0]
    assert lock.read_text() == f"{os.getpid()}\n"


def test_fresh_lock_says_nothing(tmp_path):
    notes: list[str] = []

    assert devstack.acquire_lock(tmp_path / "sub" / "run.lock", "make run", notes.append) is None
    assert notes == []


def test_children_recorded_in_the_lock_are_read_back(tmp_path):
    lock = tmp_path / "run.lock"
    devstack.acquire_lock(lock, "make run", pytest.fail)

    devstack.record_children(lock, {"web": 101, "worker": 102})

    assert devstack.read_lock(lock) == os.getpid()
    assert devstack.lock_children(lock) == {"web": 101, "worker": 102}


def test_children_left_by_a_killed_runner_are_stopped(tmp_path):
    """A runner killed with SIGKILL leaves its children running (they have their own process
    groups); the next runner finds their groups in the lock and stops them."""
    code = "import time; time.sleep(60)"
    ours = subprocess.Popen([sys.executable, "-c", code, "cxplatform"], start_new_session=True)
    other = subprocess.Popen(["sleep", "60"], start_new_session=True)  # not of this checkout
    try:
        lock = tmp_path / "run.lock"
        lock.write_text(f"999999999\nchild worker {ours.pid}\nchild beat {other.pid}\n")
        notes: list[str] = []

        devstack.acquire_lock(lock, "make run", notes.append)

        ours.wait(timeout=15)  # (its status was already collected by the runner's psutil)
        assert not devstack.process_alive(ours.pid)
        assert other.poll() is None  # left alone
        assert notes[1] == f"Its worker still ran (pids {ours.pid}); stopping them."
    finally:
        for proc in (ours, other):
            proc.kill()
            proc.wait()


# Stale server files ---------------------------------------------------------------------------


def test_stale_postmaster_pid_is_reported_and_removed(tmp_path, dead_pid):
    (tmp_path / "postmaster.pid").write_text(
        f"{dead_pid}\n{tmp_path}\n1700000000\n5432\n{tmp_path}\n\n  1 2\nready   \n"
    )
    (tmp_path / ".s.PGSQL.5432.lock").write_text(f"{dead_pid}\n")
    notes: list[str] = []

    assert devstack.read_postmaster(tmp_path) == devstack.Postmaster(
        pid=dead_pid, port=5432, socket_dir=tmp_path, status="ready"
    )
    assert devstack.postgres_running(tmp_path) is None
    assert devstack.clear_stale_postmaster(tmp_path, notes.append)
    assert f"pid {dead_pid} is not running" in notes[0]
    assert not (tmp_path / "postmaster.pid").exists()
    assert not (tmp_path / ".s.PGSQL.5432.lock").exists()


def test_no_postmaster_pid_nothing_to_clear(tmp_path):
    assert devstack.read_postmaster(tmp_path) is None
    assert not devstack.clear_stale_postmaster(tmp_path, pytest.fail)


def test_redis_socket_nobody_answers_on_is_removed(tmp_path):
    path = tmp_path / "redis.sock"
    with socket.socket(socket.AF_UNIX) as leftover:
        leftover.bind(str(path))  # the file stays after close, as after a crash
    notes: list[str] = []

    assert not devstack.redis_ping(path)
    assert devstack.clear_stale_redis_socket(path, notes.append)
    assert "no server answers" in notes[0]
    assert not path.exists()


# Configuration files --------------------------------------------------------------------------


def test_secret_key_is_made_once_and_private(tmp_path):
    key = devstack.secret_key(tmp_path, pytest.fail)

    assert len(key) >= 50
    assert devstack.secret_key(tmp_path, pytest.fail) == key
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_short_secret_key_is_replaced(tmp_path):
    (tmp_path / "secret_key").write_text("short\n")
    notes: list[str] = []

    assert len(devstack.secret_key(tmp_path, notes.append)) >= 50
    assert "shorter than 32" in notes[0]


def test_env_file_reads_back_with_django_environ(tmp_path, monkeypatch):
    values = {
        "DATABASE_URL": devstack.postgres_url(tmp_path / "pg"),
        "REDIS_URL": devstack.redis_url(tmp_path / "redis.sock"),
        "SECRET_KEY": "k" * 50,
        "DEBUG": "1",
    }
    path = devstack.write_env_file(values, tmp_path)
    read: dict[str, str] = {}
    monkeypatch.setattr(environ.Env, "ENVIRON", read)

    environ.Env.read_env(str(path))

    assert read == values
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_child_env_lets_real_variables_win_but_not_empty_ones(monkeypatch):
    stack = devstack.Stack(values={"DEBUG": "1", "REDIS_URL": "unix:///s", "SECRET_KEY": "x"})
    monkeypatch.setenv("DEBUG", "0")
    monkeypatch.setenv("REDIS_URL", "")

    env = devstack.child_env(stack)

    assert env["DEBUG"] == "0"
    assert env["REDIS_URL"] == "unix:///s"
    assert env["PYTHONUNBUFFERED"] == "1"


# Output ---------------------------------------------------------------------------------------


def test_console_puts_results_and_notes_on_their_own_lines():
    out = io.StringIO()
    console = devstack.Console(out)
    console.plan(2)

    console.step("PostgreSQL 16 (embedded, .cx/postgres)")
    console.done("ready")
    console.step("Redis")
    console.note("Found a stale socket; removing it.")
    console.done("ready")

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[1/2] PostgreSQL 16 (embedded, .cx/postgres) ... ready in ")
    assert lines[1] == "[2/2] Redis ... "
    assert lines[2] == "      Found a stale socket; removing it."
    assert lines[3].startswith("      ... ready in ")


def test_output_prefixes_each_child_line_with_its_name():
    out = io.StringIO()
    output = devstack.Output(["web", "worker", "beat"], out)
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as pipe:
        pipe.write(b"Starting development server\r\nsecond line\n")

    output.pump("web", os.fdopen(read_end, "rb")).join(timeout=5)

    assert out.getvalue() == "web    | Starting development server\nweb    | second line\n"


def test_pytest_collecting_nothing_is_a_failure(monkeypatch, capsys):
    monkeypatch.setattr(devstack, "run_streamed", lambda argv, env: 5)
    monkeypatch.setattr(devstack, "ui", devstack.Console(io.StringIO()))

    assert devstack._run_checks([], ["-k", "nothing"], {}) == 1
    assert "collected no tests" in capsys.readouterr().err


def test_first_failing_check_stops_the_run(monkeypatch):
    calls: list[list[str]] = []

    def fake_run(argv, env):
        calls.append(argv)
        return 3

    monkeypatch.setattr(devstack, "run_streamed", fake_run)
    monkeypatch.setattr(devstack, "ui", devstack.Console(io.StringIO()))
    checks = [("one", lambda: ["one"]), ("two", lambda: ["two"])]

    assert devstack._run_checks(checks, [], {}) == 3
    assert calls == [["one"]]


# A real embedded stack ------------------------------------------------------------------------


@pytest.mark.slow
def test_embedded_postgres_and_redis_start_answer_and_stop(tmp_path):
    """Start a separate PostgreSQL and Redis (not the session's) the way the runner does."""
    began = time.monotonic()
    pg_dir, redis_dir = tmp_path / "pg", tmp_path / "redis"
    notes: list[str] = []
    try:
        info, pg_started = devstack.start_postgres(pg_dir, notes.append)
        socket_path, redis_started = devstack.start_redis(redis_dir, notes.append)
        assert (pg_started, redis_started) == (True, True)
        assert notes == []

        assert devstack.ensure_database(info.socket_dir, "cx", info.port)
        assert not devstack.ensure_database(info.socket_dir, "cx", info.port)
        url = devstack.postgres_url(info.socket_dir, "cx", info.port)
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        client = redis.Redis.from_url(devstack.redis_url(socket_path))
        assert client.ping()
        client.close()

        # Started again, each server is reused, not started twice.
        assert devstack.start_postgres(pg_dir, pytest.fail)[1] is False
        assert devstack.start_redis(redis_dir, pytest.fail)[1] is False

        # A Redis killed without SHUTDOWN leaves its socket; the next start recovers.
        pid = int((redis_dir / "redis.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        assert devstack._wait_until(lambda: not devstack.process_alive(pid), 5)
        assert socket_path.exists()
        assert devstack.start_redis(redis_dir, notes.append)[1] is True
        assert "no server answers" in notes[0]
    finally:
        devstack.stop_redis(redis_dir)
        devstack.stop_postgres(pg_dir)

    assert devstack.postgres_running(pg_dir) is None
    assert not (pg_dir / "postmaster.pid").exists()
    assert not devstack.redis_ping(socket_path)
    assert not socket_path.exists()
    assert devstack.stop_postgres(pg_dir) is False
    assert devstack.stop_redis(redis_dir) is False
    assert time.monotonic() - began < 15
