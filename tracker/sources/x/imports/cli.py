"""`tracker import FORMAT PATH…`: take in what analysts already have (twarc2, X archives,
v1.1)."""

from __future__ import annotations

import sys

import click
from rich.progress import (BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn,
                           TimeElapsedColumn, TransferSpeedColumn)
from rich.table import Table

from tracker.core.terminal import config_of, err, out

FIRST_SEEN = {
    "retrieved_at": "each line's own retrieval time (twarc's __twarc.retrieved_at); lines "
                    "without one: the import time",
    "import_time": "the import time (the file says nothing about when it was collected; "
                   "pass --retrieved-at if you know)",
    "given": "the time given with --retrieved-at",
    "archive_generated": "the archive's generation time (manifest.js)",
}
MAX_BAD_SHOWN = 50


class _Bar:
    """A rich progress bar: bytes read into the raw archive, then bytes and tweets loaded."""

    def __init__(self, progress: Progress):
        self.p = progress
        self.scan = self.load = None
        self.tweets = 0

    def start(self, total_bytes: int) -> None:
        self.scan = self.p.add_task("reading", total=total_bytes or None, tweets="")

    def scanned(self, nbytes: int) -> None:
        self.p.advance(self.scan, nbytes)

    def archived(self, chunks: int, skipped: int) -> None:
        note = f"{chunks} chunks" + (f", {skipped} already imported" if skipped else "")
        self.p.update(self.scan, tweets=note)

    def loading(self, total_bytes: int) -> None:
        self.p.update(self.scan, completed=self.p.tasks[self.scan].total or 0)
        self.load = self.p.add_task("loading", total=total_bytes or None, tweets="0 tweets")

    def loaded(self, nbytes: int, items: int, rows: dict) -> None:
        self.tweets += items
        if self.load is not None:
            self.p.update(self.load, advance=nbytes, tweets=f"{self.tweets:,} tweets")


def _summary(result) -> Table:
    stats = result.details.get("stats")
    tables = result.tables or {}
    t = Table(title="imported", title_justify="left")
    for col in ("", "read", "new", "updated"):
        t.add_column(col, justify="right" if col else "left")
    for label, table in (("tweets (posts)", "posts"), ("users (accounts)", "accounts"),
                         ("polls", "polls"), ("poll snapshots", "poll_snapshots"),
                         ("errors (api_errors)", "api_errors")):
        read, new, upd = (tables.get(table) or [0, 0, 0])
        t.add_row(label, f"{read:,}", f"{new:,}", f"{upd:,}")
    bad = stats.bad_count if stats else 0
    t.add_row("bad lines / items", f"{bad:,}", "", "")
    return t


@click.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(["twarc2", "x-archive", "v1"]))
@click.argument("paths", metavar="PATH...", nargs=-1, required=True,
                type=click.Path(exists=True))
@click.option("--source-name", metavar="NAME",
              help="Label this import (raw files go to data/raw/import-NAME/; runs.source).")
@click.option("--copy-raw", is_flag=True,
              help="Copy the input into the raw archive (default: reference it by path and "
                   "sha256, so `tracker rebuild` needs the file where it is).")
@click.option("--retrieved-at", metavar="TIME",
              help="When the data was collected (ISO, UTC), for items that do not say so; "
                   "default: the import time.")
@click.option("--chunk-mb", default=24, show_default=True, type=click.IntRange(1, 1024),
              help="Input read per chunk (one raw page record, one transaction).")
@click.pass_context
def import_(ctx: click.Context, fmt: str, paths: tuple[str, ...], source_name: str | None,
            copy_raw: bool, retrieved_at: str | None, chunk_mb: int) -> None:
    """Import FORMAT files into the same tables as collected posts.

    \b
    FORMAT is one of:
      twarc2     twarc2 JSONL: API pages (data/includes/meta/errors/__twarc) or flattened
                 tweets (one a line); gzip accepted; a folder means its .jsonl/.json(.gz) files
      x-archive  an X account archive: the folder (or its data/ folder, or data/tweets.js)
      v1         v1.1 tweet objects: one a line, one per .json file in a folder, or
                 thread lines (RumourEval: source + replies)

    Importing the same file twice changes nothing; what collectors already stored is merged,
    never duplicated. Bad lines are reported as FILE:LINE: reason and the rest goes on.
    """
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  DownloadColumn(), TransferSpeedColumn(), TextColumn("{task.fields[tweets]}"),
                  TimeElapsedColumn(), console=err, transient=True) as progress:
        result = ctx.find_root().obj["run"](
            config_of(ctx), "import", fmt=fmt, paths=list(paths), source_name=source_name,
            copy_raw=copy_raw, retrieved_at=retrieved_at, progress=_Bar(progress),
            chunk_bytes=chunk_mb << 20)
    d = result.details
    stats = d.get("stats")
    for info in d.get("inputs", []):
        shape = f" ({info['shape']})" if info.get("shape") else ""
        done = f"{info['chunks']} chunks" + (
            f", {info['skipped']} already imported" if info["skipped"] else "")
        out.print(f"{info['file']}{shape}: {done}", highlight=False, soft_wrap=True)
    for e in d.get("input_errors", []):
        err.print(f"  unreadable: {e}", highlight=False, markup=False, soft_wrap=True)
    if stats:
        for line in stats.bad[:MAX_BAD_SHOWN]:
            err.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
        if stats.bad_count > MAX_BAD_SHOWN:
            err.print(f"  … and {stats.bad_count - MAX_BAD_SHOWN} more (raw_pages.error "
                      "keeps the first of each chunk)", highlight=False)
        for q in stats.quarantined:
            err.print(f"  not imported: {q}", highlight=False, markup=False, soft_wrap=True)
    out.print(_summary(result))
    if stats:
        out.print(f"{stats.items:,} tweets (or users, for user lookups) in {result.pages} "
                  "chunks; 'read' counts an item each time the input has it, 'new' and "
                  "'updated' are rows stored", highlight=False, soft_wrap=True)
    firsts = {i["first_seen"] for i in d.get("inputs", [])}
    for f in sorted(firsts):
        out.print(f"first_seen_at: {FIRST_SEEN.get(f, f)}", highlight=False, soft_wrap=True)
    style = {"ok": "green"}.get(result.status, "red")
    line = (f"[{style}]import[/] run {result.run_id}: {result.status}; {result.pages} chunks "
            f"archived ({'copied' if copy_raw else 'referenced'}), {result.new_rows} new rows, "
            f"{result.updated_rows} updated")
    if d.get("already_imported") and not result.pages:
        line += " [dim](everything was imported before: nothing changed)[/]"
    if result.load_state != "loaded":
        line += f" [yellow]({result.load_state}: the chunks wait in raw for the next run)[/]"
    out.print(line, highlight=False, soft_wrap=True)
    if result.error:
        err.print(f"  {result.status}: {result.error}", highlight=False, markup=False)
    nothing = (result.status != "ok"
               or (not d.get("already_imported") and stats is not None
                   and stats.items == 0 and not any(
                       (v or [0])[0] for v in (result.tables or {}).values())
                   and result.load_state == "loaded"))
    sys.exit(1 if nothing else 0)


def register(cli: click.Group) -> None:
    cli.add_command(import_)
