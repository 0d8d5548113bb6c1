"""The store's end of the SQLite writer process (``SQLiteStore.open(..., writer="process")``).

The event loop plans each group (compare-and-set against the version cache) and sends
the plan as one msgpack frame down a nonblocking pipe; the child process
(:mod:`bastion.persistence._writer_proc`) executes it on its own write connection, on
the other core and without this process's GIL, and answers with one ack per group, in
order. An ordinary loop watches the ack pipe from the first group on (registering and
unregistering it cost two selector calls per group); on a virtual-time
test loop the pipe is watched only while acks are outstanding, and for exactly that
time the loop is told that real work is owed (the
:class:`~bastion._core._real_work.RealWork` protocol), so its clock flows at the real
rate while the writer works and jumps freely otherwise. If
the process dies, every outstanding and later group fails with :class:`StoreError`.

POSIX only (nonblocking pipes watched by the loop); platform modules are imported when a
process is started, so importing the package works everywhere.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

import msgspec

from bastion._core._real_work import RealWork, real_work_of
from bastion.persistence import _sqlite_schema as schema
from bastion.persistence._errors import StoreError
from bastion.persistence._sqlite_writer import DrainWaiters, Plan, plan_rows

__all__ = ["AckHandler", "ProcessLink"]

T = TypeVar("T")
AckHandler = Callable[[int, str], None]
"""Called with ``(status, text)`` for a group: 0 committed, 1 stale checks, 2 error."""

_SCRIPT = str(Path(__file__).with_name("_writer_proc.py"))
_PIPE_SIZE = 1 << 20
#: Acks are a few bytes each. A read of 1 MiB allocated 1 MiB (an mmap, an mremap and an
#: munmap per group); the rest of a larger backlog is read on the next readable event.
_READ_SIZE = 1 << 16
_F_SETPIPE_SZ = 1031  # Linux; elsewhere the default pipe size is kept
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder().decode


class ProcessLink:
    """Starts, feeds and stops one writer process for the database at ``path``."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._proc: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._real_work: RealWork | None = None
        self._pending: collections.deque[AckHandler] = collections.deque()
        self._out = bytearray()
        self._in = bytearray()
        self._reading = False
        self._writing = False  # the loop watches the input pipe for room (a full pipe)
        self._drained = DrainWaiters()
        self._exited: asyncio.Future[None] | None = None
        self._gid = 0
        self.broken: StoreError | None = None
        self.commits = 0

    @property
    def pid(self) -> int | None:
        """The writer process's id while it runs."""
        return None if self._proc is None else self._proc.pid

    @property
    def in_flight(self) -> int:
        """Groups sent and not acknowledged yet."""
        return len(self._pending)

    async def start(self, timeout: float) -> None:
        """Start the process and wait until its connection is open."""
        self._loop = asyncio.get_running_loop()
        self._real_work = real_work_of(self._loop)
        self._proc = proc = _spawn(self._path)
        for pipe in (proc.stdin, proc.stdout):
            fd = _fd(pipe)
            os.set_blocking(fd, False)
            _enlarge_pipe(fd)
        ready: asyncio.Future[tuple[int, str]] = self._loop.create_future()
        self._expect(lambda status, text: _settle(ready, (status, text)))
        async with asyncio.timeout(timeout):
            status, text = await ready
        if status != 0:
            raise StoreError(f"the sqlite writer process did not start: {text}", retryable=False)

    def send(self, plan: Plan, sync: bool, on_ack: AckHandler) -> None:
        """Send a planned group; ``on_ack`` runs when it is committed (or failed)."""
        if self.broken is not None:
            on_ack(2, str(self.broken))
            return
        self._gid += 1
        checks = [(*k, v) for k, v in plan.bases.items()]
        self._out += schema.frame(
            _encode([self._gid, sync, checks, *(list(rows) for rows in plan_rows(plan))])
        )
        self._expect(on_ack)
        self._write()

    async def drain(self, timeout: float) -> None:
        """Wait until every group sent so far is acknowledged."""
        if not self._pending:
            return
        assert self._loop is not None
        await self._drained.wait(self._loop, timeout)

    async def close(self, timeout: float) -> None:
        """Drain, end the process's input, wait for it to exit; kill it on timeout."""
        proc = self._proc
        if proc is None or self._loop is None:
            return
        try:
            if self.broken is None:
                await self.drain(timeout)
            self._stop_io()
            _close(proc.stdin)
            self._exited = self._loop.create_future()
            self._start_reading()
            async with asyncio.timeout(timeout):
                await self._exited
            proc.wait(timeout)  # it closed its output as it exited
        finally:
            self._stop_io()
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout)
            _close(proc.stdin)
            _close(proc.stdout)
            self._proc = None

    # -- I/O -----------------------------------------------------------------------

    def _expect(self, on_ack: AckHandler) -> None:
        self._pending.append(on_ack)
        if not self._reading:
            self._start_reading()

    def _write(self) -> None:
        assert self._proc is not None
        assert self._loop is not None
        fd = _fd(self._proc.stdin)
        try:
            sent = os.write(fd, self._out)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._die(f"the sqlite writer process is gone ({exc})")
            return
        del self._out[:sent]
        if self._out:
            if not self._writing:
                self._writing = True
                self._loop.add_writer(fd, self._write)
        elif self._writing:  # (the common case, a frame sent at once, costs no selector call)
            self._writing = False
            self._loop.remove_writer(fd)

    def _on_readable(self) -> None:
        assert self._proc is not None
        try:
            data = os.read(_fd(self._proc.stdout), _READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            data, reason = b"", str(exc)
        else:
            reason = "it exited"
        if not data:
            if self._exited is not None:
                _settle(self._exited, None)
                self._stop_io()
            else:
                self._die(f"the sqlite writer process is gone ({reason})")
            return
        self._in += data
        self._dispatch()

    def _dispatch(self) -> None:
        for body in schema.split_frames(self._in):
            gid, status, text = _decode(body)
            self.commits += status == 0 and gid > 0
            self._pending.popleft()(status, text)
        if not self._pending:
            self._idle()

    def _start_reading(self) -> None:
        """Watch the ack pipe. While we do, the writer process owes us an answer: a loop
        running virtual time (``bastion.testing``) is told, so its clock flows at the
        real rate instead of jumping past deadlines the child is racing."""
        if self._reading or self._proc is None or self._loop is None:
            return
        self._reading = True
        self._loop.add_reader(_fd(self._proc.stdout), self._on_readable)
        if self._real_work is not None:
            self._real_work.real_work_started()

    def _stop_reading(self) -> None:
        if not self._reading or self._loop is None:
            return
        self._reading = False
        proc = self._proc
        if proc is not None and proc.stdout is not None and not proc.stdout.closed:
            self._loop.remove_reader(proc.stdout.fileno())
        if self._real_work is not None:
            self._real_work.real_work_finished()

    def _idle(self) -> None:
        # A virtual-time loop jumps its clock freely only once the pipe is unwatched; an
        # ordinary loop keeps watching it (no selector call per group).
        if self._real_work is not None:
            self._stop_reading()
        self._drained.release()

    def _die(self, reason: str) -> None:
        self.broken = StoreError(reason)
        self._stop_io()
        pending, self._pending = self._pending, collections.deque()
        self._out.clear()
        for on_ack in pending:
            on_ack(2, reason)
        self._idle()

    def _stop_io(self) -> None:
        proc, loop = self._proc, self._loop
        if proc is None or loop is None:
            return
        if proc.stdin is not None and not proc.stdin.closed:
            loop.remove_writer(proc.stdin.fileno())
        self._writing = False
        self._stop_reading()


def _enlarge_pipe(fd: int) -> None:
    """Grow a pipe's buffer to ``_PIPE_SIZE`` where the platform allows it (Linux)."""
    if sys.platform != "linux":
        return
    import fcntl  # POSIX only: imported where used

    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_SIZE)


def _spawn(path: str) -> subprocess.Popen[bytes]:
    """Fork/exec the writer script (``-P``: its folder does not shadow the stdlib)."""
    return subprocess.Popen(
        [sys.executable, "-P", _SCRIPT, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        bufsize=0,
    )


def _settle(fut: asyncio.Future[T], value: T) -> None:
    if not fut.done():
        fut.set_result(value)


def _fd(pipe: IO[Any] | None) -> int:
    assert pipe is not None
    return pipe.fileno()


def _close(pipe: IO[Any] | None) -> None:
    if pipe is not None and not pipe.closed:
        pipe.close()
