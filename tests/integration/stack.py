"""The whole stack on loopback for integration tests: scratch PostgreSQL databases (on the
shared server) or a throwaway PostgreSQL cluster of our own, a Redis server of our own,
gunicorn and ``flask worker`` processes, and a small HTTP client.

Every process started here is stopped by the context manager that started it; every wait
is bounded. The shared PostgreSQL server and Redis are never restarted or flushed.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def call(
    port: int,
    method: str,
    path: str,
    body: dict | None = None,
    token: str | None = None,
    timeout: float = 60,
    headers: dict | None = None,
):
    """One HTTP request on loopback: (status, JSON body or text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        conn.request(
            method, path, body=json.dumps(body) if body is not None else None, headers=sent
        )
        response = conn.getresponse()
        raw = response.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        return response.status, payload
    finally:
        conn.close()


# --- databases -----------------------------------------------------------------------


@contextlib.contextmanager
def scratch_database(admin_url: str, label: str) -> Iterator[str]:
    """A database of its own beside ``admin_url``'s, migrated to head, dropped afterwards."""
    from market import migrate

    base = sa.engine.make_url(admin_url)
    name = f"{base.database}_{label}_{uuid.uuid4().hex[:8]}"
    # No pooled connection: the server may have restarted (fault tests) before the drop.
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class PgCluster:
    """A throwaway PostgreSQL 15 cluster (initdb in a temp dir, a free port, its own socket
    dir), run as the ``postgres`` OS user: ours to stop and restart."""

    def __init__(self):
        if not (PG_BIN / "initdb").exists():
            pytest.skip(f"needs PostgreSQL server binaries in {PG_BIN}")
        if os.geteuid() != 0 or shutil.which("runuser") is None:
            pytest.skip("starting a PostgreSQL cluster of our own needs root (runuser -u postgres)")
        self.dir = Path(tempfile.mkdtemp(prefix="meguri-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.dir,
        )

    def init(self) -> None:
        self._pg(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.running():
                self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def pg_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.close()


# --- processes -----------------------------------------------------------------------


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def tail(self, chars: int = 3000) -> str:
        return f"--- {self.name} ---\n" + self.log.read_text(errors="replace")[-chars:]

    def stop(self, timeout: float = 20) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as when a machine dies."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)


def spawn(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> Process:
    log_path = log_dir / f"{name}.log"
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    return Process(name, popen, log_path)


@contextlib.contextmanager
def redis_server(log_dir: Path) -> Iterator[str]:
    """A Redis server of our own on a free loopback port (the shared one is never flushed,
    and no other test run can take our jobs)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("needs redis-server")
    port = free_port()
    process = spawn(
        f"redis-{port}",
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(log_dir),
        ],
        dict(os.environ),
        log_dir,
    )
    try:

        def up() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    return sock.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        wait_until(up, 20, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.stop()


@dataclass
class Stack:
    """gunicorn and job workers sharing one database, one Redis and one instance dir."""

    database_url: str
    instance: Path
    redis_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    port: int = 0

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "MEGURI_DATABASE_URL": self.database_url,
            "MEGURI_INSTANCE_DIR": str(self.instance),
            "MEGURI_SECRET_KEY": "integration-stack",
            "MEGURI_SECURE_COOKIES": "0",
            "MEGURI_LOG_FORMAT": "json",
            "PYTHONWARNINGS": "ignore",
            "FLASK_APP": "wsgi",
            "PYTHONFAULTHANDLER": "1",
        }  # a crash in C code leaves every thread's stack in the log
        if self.redis_url:
            env["MEGURI_REDIS_URL"] = self.redis_url
        env.update(self.extra_env)
        return env

    def flask(self, *args: str, timeout: float = 300) -> str:
        """Run a ``flask`` command against the stack's configuration; its output."""
        done = subprocess.run(
            [sys.executable, "-m", "flask", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, (
            f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr[-3000:]}"
        )
        return done.stdout

    def start_web(
        self, workers: int = 4, threads: int = 4, ready_path: str = "/healthz"
    ) -> Process:
        # Threads as docs/operations.md recommends. gunicorn reads ROOT/gunicorn.conf.py (the
        # working directory), whose hook keeps threaded workers from crashing (market/collector.py).
        self.port = free_port()
        process = spawn(
            "gunicorn",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                str(workers),
                "--threads",
                str(threads),
                "-b",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "60",
                "wsgi:app",
            ],
            self.env(),
            self.instance,
        )
        self.processes.append(process)

        def answering() -> bool:
            if process.popen.poll() is not None:
                pytest.fail("gunicorn exited:\n" + process.tail())
            try:
                return call(self.port, "GET", ready_path, timeout=5)[0] == 200
            except OSError:
                return False

        try:
            wait_until(answering, 60, "gunicorn to answer")
        except AssertionError:
            pytest.fail("gunicorn did not answer:\n" + process.tail())
        return process

    def start_worker(self, name: str, threads: int = 1) -> Process:
        process = spawn(
            name,
            [sys.executable, "-m", "flask", "worker", "--workers", str(threads)],
            self.env(),
            self.instance,
        )
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.processes)

    def stop(self) -> None:
        for process in reversed(self.processes):
            with contextlib.suppress(Exception):
                process.stop()


@contextlib.contextmanager
def stack(
    database_url: str, instance: Path, redis_url: str | None = None, **extra_env: str
) -> Iterator[Stack]:
    running = Stack(database_url, instance, redis_url, dict(extra_env))
    try:
        yield running
    finally:
        running.stop()


def make_app(database_url: str, instance: Path, **config):
    """An in-process app on the stack's database (seeding, inspecting)."""
    from market import create_app

    return create_app(
        {
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(instance),
            "SECRET_KEY": "seed",
            "JOBS_IMMEDIATE": True,
            "TESTING": True,
            "LOG_FORMAT": "text",
            **config,
        }
    )


def scalar(url: str, sql: str, **params):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()
    finally:
        engine.dispose()


def rows(url: str, sql: str, **params) -> list:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params).all())
    finally:
        engine.dispose()
