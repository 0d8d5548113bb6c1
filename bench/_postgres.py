"""A throwaway PostgreSQL 15 server on 127.0.0.1 for the benchmarks that compare with DBOS.

``with local_postgres() as dsn:`` runs ``initdb`` in a temporary directory and starts the
server with ``pg_ctl`` (fsync on, as in production), as the ``postgres`` user when this
process is root (PostgreSQL refuses to run as root), and stops and deletes it afterwards.
``$BASTION_BENCH_PG_DSN`` names an existing server instead. None when PostgreSQL is not
installed (``/usr/lib/postgresql/*/bin``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["local_postgres"]

ENV = "BASTION_BENCH_PG_DSN"


def _bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _run(command: list[str]) -> None:
    subprocess.run(_as_postgres(command), check=True, capture_output=True, timeout=120)


@contextlib.contextmanager
def local_postgres() -> Iterator[str | None]:
    """A DSN of a running server (``postgresql://postgres@127.0.0.1:PORT/postgres``)."""
    if (dsn := os.environ.get(ENV)) is not None:
        yield dsn
        return
    bin_dir = _bin_dir()
    if bin_dir is None:
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="bastion-bench-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    pg_ctl = str(bin_dir / "pg_ctl")
    try:
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"])
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        _run([pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"])
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            _run([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"])
    finally:
        shutil.rmtree(root, ignore_errors=True)
