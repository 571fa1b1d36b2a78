"""Private PostgreSQL and MariaDB servers a test may stop and start at will.

The shared servers on :5432 and :3306 serve every engineer's and CI job's tests, so a test
that needs a database to go away starts its own: a fresh data directory in a temp dir, a
free loopback port, its own unix socket. `stop()` shuts it down the way an operator
would (clients are disconnected), `start()` brings it back on the same port with the same
data, `remove()` stops it and deletes everything.

    pg = PrivatePostgres.create()   # raises ServerMissing when the binaries are not here
    pg.new_database()               # -> "postgresql+psycopg://postgres@127.0.0.1:PORT/bo_..."
    pg.stop(); pg.start(); pg.remove()

PostgreSQL's initdb refuses to run as root, so as root its commands run as the `postgres`
user (runuser) in a temp dir handed to that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

READY_WITHIN_S = 60.0  # a cold start on a busy 2-core machine


class ServerMissing(RuntimeError):
    """The server's binaries are not installed; the message says which and how to get them."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class _Server:
    """What both servers share: a URL per database and a readiness wait."""

    backend_url: str  # SQLAlchemy URL of the server, no database
    admin_db: str = ""
    create_sql: str = ""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.running = False

    def _admin(self) -> sa.Engine:
        return sa.create_engine(
            f"{self.backend_url}/{self.admin_db}",
            isolation_level="AUTOCOMMIT",
            connect_args={"connect_timeout": 2},
            poolclass=sa.pool.NullPool,
        )

    def new_database(self) -> str:
        """A fresh database on this server; returns its SQLAlchemy URL."""
        name = f"bo_test_{uuid.uuid4().hex[:8]}"
        engine = self._admin()
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(self.create_sql.format(name=name)))
        finally:
            engine.dispose()
        return f"{self.backend_url}/{name}"

    def _wait_ready(self, log: Path, alive: Callable[[], bool] = lambda: True) -> None:
        deadline = time.monotonic() + READY_WITHIN_S
        engine = self._admin()
        try:
            while True:
                try:
                    with engine.connect():
                        return
                except sa.exc.OperationalError:
                    if not alive() or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"{type(self).__name__} on :{self.port} did not start:\n{_tail(log)}"
                        ) from None
                    time.sleep(0.1)
        finally:
            engine.dispose()


class PrivatePostgres(_Server):
    admin_db = "postgres"
    create_sql = 'CREATE DATABASE "{name}"'

    def __init__(self, root: Path, port: int, bindir: Path, run_as: list[str]) -> None:
        super().__init__(root, port)
        self.bindir, self.run_as = bindir, run_as
        self.data, self.log = root / "data", root / "server.log"
        self.backend_url = f"postgresql+psycopg://postgres@127.0.0.1:{port}"

    @staticmethod
    def bindir() -> Path:
        found = sorted(
            glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
        )
        initdb = found[-1] if found else shutil.which("initdb")
        if not initdb or not (Path(initdb).parent / "pg_ctl").exists():
            raise ServerMissing(
                "PostgreSQL server binaries (initdb, pg_ctl) not found; "
                "install them with: apt-get install postgresql"
            )
        return Path(initdb).parent

    @classmethod
    def create(cls) -> PrivatePostgres:
        """initdb a new cluster in a temp dir and start it on a free port."""
        bindir = cls.bindir()
        root = Path(tempfile.mkdtemp(prefix="bo-private-pg-"))
        run_as: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(root)
                raise ServerMissing(
                    "running as root and no `postgres` user to run initdb as"
                ) from None
            os.chown(root, owner.pw_uid, owner.pw_gid)
            run_as = ["runuser", "-u", "postgres", "--"]
        server = cls(root, free_port(), bindir, run_as)
        init = subprocess.run(
            [*run_as, str(bindir / "initdb"), "-D", str(server.data), "-U", "postgres",
             "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if init.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(f"initdb failed: {init.stderr.strip()[-800:]}")
        server.start()
        return server

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.data), *args],
            capture_output=True, text=True, check=True,
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c shared_buffers=16MB"
        )
        self._pg_ctl("-o", options, "-l", str(self.log), "-w", "-t", "60", "start")
        self.running = True
        self._wait_ready(self.log)

    def stop(self) -> None:
        """Shut down as `pg_ctl stop -m fast` does: every client is disconnected."""
        if self.running:
            self._pg_ctl("-m", "fast", "-w", "-t", "60", "stop")
            self.running = False

    def remove(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class PrivateMariaDB(_Server):
    admin_db = "?charset=utf8mb4"
    create_sql = "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"

    def __init__(self, root: Path, port: int, mariadbd: str) -> None:
        super().__init__(root, port)
        self.mariadbd = mariadbd
        self.data, self.log = root / "data", root / "server.log"
        self.backend_url = f"mysql+pymysql://root@127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binaries() -> tuple[str, str]:
        install = shutil.which("mariadb-install-db")
        server = shutil.which("mariadbd") or (
            "/usr/sbin/mariadbd" if os.path.exists("/usr/sbin/mariadbd") else None
        )
        if not install or not server:
            raise ServerMissing(
                "MariaDB server binaries (mariadb-install-db, mariadbd) not found; "
                "install them with: apt-get install mariadb-server"
            )
        return install, server

    def _user(self) -> list[str]:
        # mariadbd refuses to run as root unless told to; as anyone else it runs as itself.
        return ["--user=root"] if os.geteuid() == 0 else []

    @classmethod
    def create(cls) -> PrivateMariaDB:
        """mariadb-install-db a new data dir in a temp dir and start it on a free port."""
        install, mariadbd = cls.binaries()
        root = Path(tempfile.mkdtemp(prefix="bo-private-mariadb-"))
        server = cls(root, free_port(), mariadbd)
        init = subprocess.run(
            [install, "--no-defaults", f"--datadir={server.data}",
             "--auth-root-authentication-method=normal", "--skip-test-db",
             *server._user()],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if init.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(f"mariadb-install-db failed: {init.stdout[-800:]}")
        server.start()
        return server

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [self.mariadbd, "--no-defaults", f"--datadir={self.data}",
                 f"--port={self.port}", "--bind-address=127.0.0.1",
                 f"--socket={self.root / 'mysqld.sock'}", f"--pid-file={self.root / 'pid'}",
                 "--skip-log-bin", "--skip-name-resolve", "--innodb-buffer-pool-size=32M",
                 "--innodb-flush-log-at-trx-commit=0", *self._user()],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.running = True
        process = self.process
        self._wait_ready(self.log, alive=lambda: process.poll() is None)

    def stop(self) -> None:
        """A normal shutdown (SIGTERM): clients are disconnected."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.running = False

    def remove(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
