"""The X source, as the registry sees it (see tracker/sources/base.py)."""

from __future__ import annotations

from tracker.core.lazy import LazySequence, lazy_module
from tracker.sources.base import Source
from tracker.sources.x import cli
from tracker.sources.x.config import XConfig, x_handle
from tracker.sources.x.normalize import normalize
from tracker.store.datamigrations import DataMigration, register_data_migration

# what a run needs (tweepy, DuckDB, pyarrow) loads on first use: `tracker --help` stays fast
_bulk = lazy_module("tracker.sources.x.bulk")
_cost = lazy_module("tracker.sources.x.cost")
_jobs = lazy_module("tracker.sources.x.jobs")
_plan = lazy_module("tracker.sources.x.plan")
_migrations = lazy_module("tracker.sources.x.migrations")

register_data_migration(DataMigration(
    "x: entities as sent",
    "X posts' entities and withheld as compact JSON in the order sent (were json.dumps with "
    "sorted keys and spaces)", lambda con: _migrations.entities_as_sent(con)))


def plan(con, cfg, now, options: dict):
    """What is due for this run, from the stored state."""
    return _plan.read_plan(con, cfg, now,
                           every_conversation=bool(options.get("every_conversation")))


def plan_pending(*args, **kwargs):
    return _plan.plan_pending(*args, **kwargs)


def cursor_rank(cursor: dict) -> tuple:
    return _plan.cursor_rank(cursor)


def cost(*args, **kwargs):
    return _cost.cost(*args, **kwargs)


class Batches:
    """tracker.sources.x.bulk.Batches, loaded on first use."""

    def size(self, record: dict):
        return _bulk.Batches().size(record)

    def bytes(self):
        return _bulk.Batches().bytes()

    def pack(self, record: dict) -> dict:
        return _bulk.Batches().pack(record)

    def normalize(self, records: list[dict]):
        return _bulk.Batches().normalize(records)


SOURCE = Source(
    name="x", platform="x", section="x", config=XConfig,
    secrets=lambda section: (section.bearer_token_env,),
    normalize=normalize, jobs=LazySequence(lambda: _jobs.JOBS), cli=cli.register, cost=cost,
    plan=plan, plan_pending=plan_pending, cursor_rank=cursor_rank, batch=Batches(),
    read_ahead=True, handle=x_handle, active=lambda cfg: bool(cfg.accounts_on("x")),
    docs="posts, polls over time, replies, edits, deletions (API v2, pay per read)")
