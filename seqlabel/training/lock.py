"""One training at a time per run folder: ``run.lock``, taken before anything is written and held
for the whole run.

The lock file holds ``pid host start-time`` and carries an ``fcntl.flock`` for as long as its process
lives. The kernel drops a flock when its process ends however it ends (SIGKILL included), so a lock
file whose flock is free was left by a run that is gone: it is taken over, and said so. A second run
on a folder whose lock is held stops at once, naming the process that holds it. Released on any exit
of the run: normal, exception, Ctrl-C, SIGTERM (turned into SystemExit while the lock is held).
A folder the lock created and that holds nothing else when the run stops is removed again, so a
refused run leaves no empty run folder behind. Under torchrun only rank 0 takes the lock.
"""
from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Optional

from seqlabel.errors import ConfigError
from seqlabel.training.folder import RunFolder

log = logging.getLogger(__name__)


def check_out_dir(out_dir: str | Path) -> Path:
    """The run folder as a Path; an empty name is refused (``Path("")`` would be the working folder)."""
    if not str(out_dir).strip():
        raise ConfigError("the run folder (--out) is empty: name one, e.g. --out exp/run1")
    return Path(out_dir)


class RunLock:
    """``with RunLock(out_dir):`` holds ``out_dir/run.lock`` (creating ``out_dir`` if needed)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.path = RunFolder(out_dir).lock
        self.fd: Optional[int] = None
        self.created: list[Path] = []  # folders this lock made, innermost first
        self.previous_sigterm: object = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        self.created = _make_dirs(self.out_dir)
        try:
            self.fd = self._lock()
        except BaseException:
            self._remove_created()
            raise
        self._catch_sigterm()

    def release(self) -> None:
        """Remove the lock file (while still holding it), drop the flock, remove folders left empty."""
        if self.fd is None:
            return
        if self.previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self.previous_sigterm)
            self.previous_sigterm = None
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        os.close(self.fd)
        self.fd = None
        self._remove_created()

    def _lock(self) -> int:
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise ConfigError(f"output directory {self.out_dir} is not writable: cannot create {self.path}: "
                                  f"{e.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _describe(_read(fd))
                os.close(fd)
                raise ConfigError(f"{self.out_dir} is in use by another training ({holder}; lock file {self.path}); "
                                  "wait for it to finish, stop it, or choose another --out") from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # its holder removed the file between our open and our flock: try the new one
        stale = _read(fd)
        if stale:
            log.info(f"{self.path}: taking over the lock left by {_describe(stale)}, which is no longer running")
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
        os.fsync(fd)
        return fd

    def _catch_sigterm(self) -> None:
        """SIGTERM (kill, torchrun stopping its workers) becomes SystemExit, so ``finally`` blocks and
        ``release`` run; only in the main thread, and only where SIGTERM still has its default action."""
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            self.previous_sigterm = signal.signal(signal.SIGTERM, _exit_on_sigterm)

    def _remove_created(self) -> None:
        for folder in self.created:
            try:
                folder.rmdir()  # only when empty
            except OSError:
                break
        self.created = []


def _exit_on_sigterm(signum: int, frame: Optional[FrameType]) -> None:
    raise SystemExit(128 + signum)


def _make_dirs(out_dir: Path) -> list[Path]:
    """Create ``out_dir`` and its missing parents; return the ones created, innermost first."""
    missing = []
    folder = out_dir.absolute()
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"output directory {out_dir} is not writable: {e.strerror}") from None
    return missing


def _read(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 4096).decode("utf-8", errors="replace").strip()


def _describe(content: str) -> str:
    """``pid host time`` -> "process 1234 on host, started 2026-...T..."."""
    parts = content.split()
    if len(parts) < 2 or not parts[0].isdigit():
        return "a process that left no id"
    started = f", started {parts[2]}" if len(parts) > 2 else ""
    return f"process {parts[0]} on {parts[1]}{started}"
