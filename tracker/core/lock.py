"""One lock file shared by cron runs, the scheduler and manual commands."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from tracker.core.errors import LockHeld, StorageError


class RunLock:
    """Exclusive, non-blocking lock; the OS releases it if the process dies."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fh = None

    def __enter__(self) -> "RunLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+")
        except OSError as exc:
            raise StorageError(f"cannot create the lock file {self.path}: "
                               f"{exc.strerror or exc}; nothing done") from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise LockHeld(f"another tracker run holds {self.path} (pid {holder}); nothing done")
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc) -> None:
        if self._fh:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
