"""A throwaway PostgreSQL server for the tests, and the fixtures that hand it out.

``pg_server`` (session scope) starts one server for the whole run: ``initdb`` into a
temporary directory (as the ``postgres`` system user when the tests run as root, since
PostgreSQL refuses to run as root), ``pg_ctl start`` listening on 127.0.0.1 only, on a
free port, with its unix socket in the same directory and ``fsync=off`` (a test server
needs no power-loss safety). It is stopped and deleted at the end of the session.

``initdb`` runs once per machine: its result is kept as a template in the temporary
directory and copied for each session (a copy takes a fraction of a second; ``initdb``
several seconds on a busy machine).

``BASTION_TEST_PG_DSN`` points the tests at an existing server instead (nothing is
started; every test works in its own PostgreSQL schema, dropped at the end).

When no server binaries are found (in ``BASTION_PG_BINDIR`` when set, else
``pg_config --bindir`` or ``/usr/lib/postgresql/*/bin``) the tests that need a server
skip with the reason, or fail when ``CI=true`` (``scripts/ci-postgres`` installs them).

Every step is bounded: a command that does not finish within its timeout fails the
fixture with the server's log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["PostgresServer", "find_bindir", "local_server", "pg_dsn", "pg_schema", "pg_server"]

DSN_ENV = "BASTION_TEST_PG_DSN"
BINDIR_ENV = "BASTION_PG_BINDIR"
#: Seconds any one server command (initdb, pg_ctl start/stop) may take.
COMMAND_TIMEOUT = 30.0
#: The file that marks a cached template data directory complete.
READY_MARK = "bastion-template-ready"
#: Seconds ``pg_ctl`` waits for the server to accept connections.
START_WAIT = 15
SERVER_SETTINGS = ("max_connections=200", "shared_buffers=32MB", "log_min_messages=warning")
#: A test server needs no crash safety; a benchmark's server keeps it (``durable=True``).
UNSAFE_SETTINGS = ("fsync=off", "full_page_writes=off")


def find_bindir() -> Path | None:
    """The directory of ``initdb``/``pg_ctl``, or None when PostgreSQL is not installed."""
    if os.environ.get(BINDIR_ENV):  # this directory, or none at all
        chosen = Path(os.environ[BINDIR_ENV])
        return chosen if (chosen / "initdb").is_file() and (chosen / "pg_ctl").is_file() else None
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(Path(out.stdout.strip()))
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(versions)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """One PostgreSQL server in a temporary directory (or an external one by DSN).

    ``durable=False`` (tests) runs it with ``fsync=off``; a benchmark passes True.

    ``dsn`` connects to its ``postgres`` database as the superuser ``bastion``.
    :meth:`stop` / :meth:`start` / :meth:`restart` let a test take the database away
    (only for a server this class started: ``owned``).
    """

    def __init__(
        self, bindir: Path | None, dsn: str | None = None, *, durable: bool = False
    ) -> None:
        self.bindir = bindir
        self.settings = SERVER_SETTINGS if durable else SERVER_SETTINGS + UNSAFE_SETTINGS
        self.owned = dsn is None
        self.root = Path(tempfile.mkdtemp(prefix="bastion-pg-")) if self.owned else None
        self.port = _free_port() if self.owned else 0
        self.dsn = dsn or f"host=127.0.0.1 port={self.port} user=bastion dbname=postgres"
        self._as_postgres = self.owned and os.geteuid() == 0
        self.running = False

    @property
    def url(self) -> str:
        """The DSN as a ``postgresql://`` URL (what SQLAlchemy-based clients such as DBOS
        take); only for a server this class started."""
        assert self.owned
        return f"postgresql://bastion@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        """The data directory."""
        assert self.root is not None
        return self.root / "data"

    @property
    def log(self) -> Path:
        """The server's log file."""
        assert self.root is not None
        return self.root / "server.log"

    def _run(self, *args: str) -> None:
        assert self.bindir is not None
        assert self.root is not None
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        try:
            subprocess.run(
                command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=True
            )
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(
                f"{args[0]} failed ({exc.returncode}): {exc.stderr.strip()}\n{self._log_tail()}"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(
                f"{args[0]} did not finish within {COMMAND_TIMEOUT}s\n{self._log_tail()}"
            ) from exc

    def _log_tail(self) -> str:
        try:
            return "server log:\n" + "\n".join(self.log.read_text().splitlines()[-20:])
        except OSError:
            return "(no server log)"

    def init(self) -> None:
        """Make the data directory: a copy of a cached ``initdb`` template (made once per
        machine and server version; ``initdb`` itself takes seconds on a busy machine)."""
        assert self.root is not None
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        template = self._template()
        copy = ["cp", "-a", str(template), str(self.data)]
        subprocess.run(copy, capture_output=True, timeout=COMMAND_TIMEOUT, check=True)

    def _template(self) -> Path:
        """The cached template data directory, made by ``initdb`` if missing."""
        assert self.bindir is not None
        assert self.root is not None
        name = f"bastion-pg-template-{self.bindir.parent.name}-{os.geteuid()}"
        template = Path(tempfile.gettempdir()) / name
        if (template / READY_MARK).is_file():
            return template
        fresh = self.root / "template"
        self._initdb(fresh)
        (fresh / READY_MARK).touch()
        with contextlib.suppress(OSError):  # another session made it meanwhile: use theirs
            fresh.rename(template)
        return template if (template / READY_MARK).is_file() else fresh

    def _initdb(self, data: Path) -> None:
        """``initdb`` into ``data`` (trust authentication: the server listens on 127.0.0.1)."""
        self._run(
            "initdb",
            "-D",
            str(data),
            "-U",
            "bastion",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )

    def start(self) -> None:
        """Start the server and wait (bounded) until it accepts connections."""
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-p {self.port}",
                f"-k {self.root}",
                *(f"-c {setting}" for setting in self.settings),
            ]
        )
        self._run(
            "pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w",
            "-t", str(START_WAIT), "-o", options,
        )  # fmt: skip
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode``: ``smart``, ``fast`` or ``immediate``, as pg_ctl)."""
        if self.running:
            self.running = False
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "20")

    def restart(self, mode: str = "fast") -> None:
        """Stop and start again on the same port and data directory."""
        self.stop(mode)
        self.start()

    def cleanup(self) -> None:
        """Stop the server if running and delete its directory."""
        try:
            self.stop("immediate")
        finally:
            if self.root is not None:
                shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def local_server(*, durable: bool = False) -> Iterator[PostgresServer | None]:
    """A started throwaway server (stopped and deleted on exit); None when no PostgreSQL
    binaries are found. ``durable=True`` (benchmarks) keeps ``fsync`` on."""
    bindir = find_bindir()
    if bindir is None:
        yield None
        return
    server = PostgresServer(bindir, durable=durable)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.cleanup()


def _no_server(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: run scripts/ci-postgres first)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session (see the module docstring)."""
    external = os.environ.get(DSN_ENV)
    if external:
        yield PostgresServer(None, external)
        return
    with local_server() as server:
        if server is None:
            _no_server("PostgreSQL server binaries not found (install postgresql, or set "
                       f"{DSN_ENV} to a server's DSN)")  # fmt: skip
            raise AssertionError("unreachable")
        yield server


@pytest.fixture(scope="session")
def pg_dsn(pg_server: PostgresServer) -> str:
    """The DSN of the session's PostgreSQL server."""
    return pg_server.dsn


@pytest.fixture
def pg_schema(pg_dsn: str) -> Iterator[str]:
    """A fresh PostgreSQL schema name for one test (dropped after it, with its tables)."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(pg_dsn, connect_timeout=10, autocommit=True) as conn:
        conn.execute("SET statement_timeout = '20s'")
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
