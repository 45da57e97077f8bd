"""The lake (``storage.lake_dir``): `tracker lake status|view|compact|sync|rebuild`.

Thin: the work is in tracker/store/lake.py (docs/lake.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tracker.core.errors import TrackerError
from tracker.core.lazy import lazy_module
from tracker.core.terminal import config_of, err, out

store_lake = lazy_module("tracker.store.lake")
db = lazy_module("tracker.store.db")
lock = lazy_module("tracker.core.lock")

LAKE_OPTION = click.option(
    "--lake", "lake_dir", metavar="DIR", type=click.Path(file_okay=False),
    help="The lake's folder (default: storage.lake_dir).")


def _lake(ctx: click.Context, given: str | None) -> Path:
    if given:
        return Path(given)
    cfg = config_of(ctx)
    if not getattr(cfg.storage, "lake_dir", None):
        raise TrackerError("no lake: set storage.lake_dir in the configuration (docs/lake.md) "
                           "or pass --lake DIR")
    return store_lake.lake_path(cfg)


def _mb(n: int) -> str:
    return f"{n / 1e6:,.2f} MB"


@click.group("lake")
def lake_group() -> None:
    """Parquet files each load extends with the rows it added or changed (storage.lake_dir).

    Same Hive layout as `tracker export --parquet`; readers keep the newest copy of each row
    (`tracker lake view` prints the DuckDB views that do). See docs/lake.md.
    """


@lake_group.command("status")
@LAKE_OPTION
@click.pass_context
def status_cmd(ctx: click.Context, lake_dir: str | None) -> None:
    """What the lake holds: the last load written, files and bytes per table, the last failure."""
    lake = _lake(ctx, lake_dir)
    st = store_lake.status(lake)
    m = st["manifest"]
    if m is None:
        out.print(f"{lake}: no lake yet (the next load writes it whole)", highlight=False)
    else:
        out.print(f"{lake}: holds loads up to {m['load_seq']}, written {m['written_at']}",
                  highlight=False)
        for name, t in st["tables"].items():
            out.print(f"  {name}: {t['files']} files in {t['partitions']} partitions, "
                      f"{_mb(t['bytes'])}", highlight=False)
        if m.get("superseded"):
            out.print(f"  {len(m['superseded'])} files replaced by a compaction, deleted "
                      "after their grace by the next write", highlight=False)
    if lake_dir:
        return
    cfg = config_of(ctx)
    with db.first_readable(cfg.database, cfg.replica) as con:
        row = con.execute("SELECT load_seq, error, failed_at, failures FROM lake_state "
                          "WHERE lake_dir = ?", [str(cfg.storage.lake_dir)]).fetchone() \
            if con is not None else None
    if row and row[1]:
        err.print(f"last write failed ({row[3]} times since the last success, last at "
                  f"{row[2]}): {row[1]}\nthe next load writes what the lake lacks "
                  "(or `tracker lake sync`)", highlight=False, markup=False)


@lake_group.command("view")
@LAKE_OPTION
@click.option("--at", metavar="URL", help="Where readers find the lake, when not at its "
              "folder here (e.g. s3://bucket/lake for a copy on object storage).")
@click.argument("tables", nargs=-1)
@click.pass_context
def view_cmd(ctx: click.Context, lake_dir: str | None, at: str | None,
             tables: tuple[str, ...]) -> None:
    """Print CREATE VIEW statements that read the lake as the database's tables.

    Each view keeps the newest copy of each row (the highest load_seq per key). Run them in
    any DuckDB: `tracker lake view > lake.sql`, then `duckdb -init lake.sql`.
    """
    sys.stdout.write(store_lake.view_sql(_lake(ctx, lake_dir), at=at,
                                         tables=list(tables) or None))


@lake_group.command("compact")
@LAKE_OPTION
@click.option("--grace", default=600, show_default=True,
              type=click.FloatRange(min=0), metavar="SECONDS",
              help="Keep the replaced files this long for readers that listed them (0: delete "
                   "them at once).")
@click.pass_context
def compact_cmd(ctx: click.Context, lake_dir: str | None, grace: float) -> None:
    """Rewrite partitions of several files (or older copies) into one file of the newest rows.

    Partitions the loads since the last compaction did not touch are left as they are. Safe
    beside readers: the new files are in place before the old ones go, and the old ones stay
    --grace seconds more.
    """
    res = store_lake.compact(_lake(ctx, lake_dir), grace=grace)
    if not res.tables:
        out.print(f"{res.lake_dir}: nothing to compact", highlight=False)
    for name, (n_in, n_out, rows) in res.tables.items():
        out.print(f"  {name}: {n_in} files -> {n_out} ({rows:,} rows rewritten)",
                  highlight=False)
    out.print(f"{res.superseded} files replaced, {res.deleted} deleted, in {res.seconds:.1f} s",
              highlight=False)


def _write(ctx: click.Context, full: bool) -> None:
    cfg = config_of(ctx)
    if not getattr(cfg.storage, "lake_dir", None):
        raise TrackerError("no lake: set storage.lake_dir in the configuration (docs/lake.md)")
    with lock.RunLock(cfg.lock_file):
        con = db.open_db(cfg.database, storage_version=cfg.storage.duckdb_storage_version)
        try:
            res = store_lake.sync_after_load(con, cfg, full=full)
        finally:
            con.close()
    if res.error:
        raise TrackerError(f"lake not written: {res.error}")
    out.print(f"{res.lake_dir}: {res.mode}, up to load {res.load_seq}: {res.rows:,} rows in "
              f"{res.files} files ({_mb(res.bytes)}) in {res.seconds:.2f} s", highlight=False)


@lake_group.command("sync")
@click.pass_context
def sync_cmd(ctx: click.Context) -> None:
    """Write what the lake lacks now (every load does it too, and catches up after a failure)."""
    _write(ctx, full=False)


@lake_group.command("rebuild")
@click.pass_context
def rebuild_cmd(ctx: click.Context) -> None:
    """Write the lake whole from the database, replacing what it holds."""
    _write(ctx, full=True)


def register(cli: click.Group) -> None:
    cli.add_command(lake_group)
