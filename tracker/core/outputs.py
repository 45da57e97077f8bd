"""Where commands may write: never over the data they were asked to read.

Every ``-o FILE`` (report, sql, timeline, press list, a PNG) and every export folder is checked
against the files the tracker keeps: the database and its write-ahead log, the replica, the
raw archive, the config file, the lock file and the database's backups. An export folder is
overwritten only if it holds a previous export (its ``_manifest.json``) and nothing else the
tracker keeps.
"""

from __future__ import annotations

import os
from pathlib import Path

from tracker.core.errors import TrackerError

MANIFEST = "_manifest.json"


class ProtectedPath(TrackerError):
    """An output path would overwrite or remove data the tracker keeps."""

    exit_code = 2


def _real(path: Path) -> Path:
    return Path(os.path.realpath(Path(path).expanduser()))


def protected(cfg) -> list[tuple[Path, str]]:
    """(path, what it is) of every file and folder the tracker keeps."""
    db, replica = _real(cfg.database), _real(cfg.replica)
    out = [(db, "the database"), (db.with_name(db.name + ".wal"), "the database's log"),
           (replica, "the read-only replica"),
           (replica.with_name(replica.name + ".wal"), "the replica's log"),
           (_real(cfg.raw_dir), "the raw archive"), (_real(cfg.lock_file), "the lock file")]
    if cfg.source_path:
        out.append((_real(cfg.source_path), "the config file"))
    if db.parent.is_dir():
        for p in db.parent.glob(db.name + ".*"):
            out.append((_real(p), "a copy of the database"))
    return out


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output_file(cfg, path: str | os.PathLike, option: str = "-o") -> Path:
    """``path`` if a command may write it; ProtectedPath naming what it would destroy."""
    target = _real(Path(path))
    for kept, what in protected(cfg):
        if target == kept or (kept == _real(cfg.raw_dir) and _inside(target, kept)):
            raise ProtectedPath(f"{option} {path}: that is {what} ({kept}); refusing to "
                                "overwrite it. Write the output somewhere else.")
    if target.is_dir():
        raise ProtectedPath(f"{option} {path}: a folder; give the file to write")
    return Path(path)


def check_output_dir(cfg, path: str | os.PathLike, *, replace: bool = False,
                     option: str = "DIR") -> Path:
    """``path`` if a command may write files into it; with ``replace`` (a folder written whole
    and swapped in), also that it holds nothing the tracker keeps and is a previous export."""
    target = _real(Path(path))
    raw = _real(cfg.raw_dir)
    if _inside(target, raw):
        raise ProtectedPath(f"{option} {path}: inside the raw archive ({raw}); refusing to "
                            "write there. Choose a folder of its own.")
    for kept, what in protected(cfg) if replace else ():
        if _inside(kept, target):
            raise ProtectedPath(f"{option} {path}: it holds {what} ({kept}); refusing to "
                                "replace it. Choose a folder of its own.")
    if target.exists() and not target.is_dir():
        raise ProtectedPath(f"{option} {path}: a file, not a folder")
    if replace and target.is_dir() and any(target.iterdir()) \
            and not (target / MANIFEST).is_file():
        raise ProtectedPath(f"{option} {path}: not a previous export (no {MANIFEST}); "
                            "--overwrite replaces only an export it wrote")
    return Path(path)
