"""One lock file shared by cron runs, the scheduler and manual commands."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Callable

from tracker.core.errors import LockHeld, StorageError


class RunLock:
    """Exclusive lock; the OS releases it if the process dies. ``wait_seconds``: how long to
    wait for a run that holds it (0: give up at once), checking every ``poll_seconds``."""

    def __init__(self, path: Path, wait_seconds: float = 0, poll_seconds: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep):
        self.path = Path(path)
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        self._fh = None

    def __enter__(self) -> "RunLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+")
        except OSError as exc:
            raise StorageError(f"cannot create the lock file {self.path}: "
                               f"{exc.strerror or exc}; nothing done") from None
        deadline = time.monotonic() + max(0.0, self.wait_seconds)
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left > 0:
                    self.sleep(min(self.poll_seconds, left))
                    continue
                fh.seek(0)
                holder = fh.read().strip() or "unknown"
                fh.close()
                waited = (f" after waiting {self.wait_seconds:g} s" if self.wait_seconds > 0
                          else "")
                raise LockHeld(f"another tracker run holds {self.path} (pid {holder}){waited}; "
                               "nothing done") from None
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
