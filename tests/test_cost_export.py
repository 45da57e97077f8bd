"""`tracker cost` (a month of the config's collection, priced) and `tracker export --parquet`."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import duckdb
import pyarrow.dataset as ds
import pytest
import yaml
from click.testing import CliRunner

from tests.conftest import make_post
from tracker.runs import runner
from tracker.cli import cli
from tracker.config import load_config, parse_config
from tracker.runs.cost import project, runs_per_month
from tracker.core.cron import parse_cron
from tracker.store.db import open_db, refresh_replica

NO_SLEEP = {"sleep": lambda s: None}


def invoke(*args):
    return CliRunner().invoke(cli, list(args), obj={})


# ---- cost ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cron,runs", [("*/15 * * * *", 2880), ("0 * * * *", 720),
                                       ("30 */6 * * *", 120), ("0 9 * * 1-5", 22),
                                       ("0 0 1,15 * *", 2), ("@daily", 30)])
def test_runs_per_month(cron, runs):
    assert runs_per_month(parse_cron(cron)) == runs


PRICED = {
    "x": {"replies_window_days": 2, "deletion_check_days": 3, "max_requests_per_run": 5000,
          "pricing": {"usd_per_post_read": 0.01, "usd_per_user_read": 0.1,
                      "usd_per_request": 0.001, "monthly_base_usd": 100,
                      "monthly_post_read_cap": 10_000}},
    "accounts": [{"handle": f"acct{i}"} for i in range(10)],
    "schedule": {"jobs": {"collect_posts": {"cron": "0 * * * *"},
                          "collect_replies": {"cron": "30 * * * *"},
                          "snapshot_polls": {"cron": "*/30 * * * *"},
                          "check_deletions": {"cron": "0 0 * * *"}}},
}


def test_cost_projection_from_the_schedule_and_given_rates(tmp_path):
    cfg = parse_config(PRICED, base_dir=tmp_path)
    p = project(cfg, {"posts_per_day": 4, "replies_per_post": 50, "polls_per_day": 0.5},
                measure=False)
    jobs = {j.job: j for j in p.jobs}
    # timelines: the 10 accounts fit one search (18 `from:` terms in 512 characters): one
    # request a run. Replies: 960 conversations a month, each searched 6 times in its first 6
    # hours (every run), 18 times up to a day (hourly), 8 times up to its 2-day window (every 3
    # hours), 13 to a search. Deletions: 1,200 posts, each looked up on 3 daily runs of its 3 days
    assert {k: (j.runs, j.requests) for k, j in jobs.items()} == {
        "resolve_handles": (0, 1), "collect_posts": (720, 720),
        "collect_replies": (720, math.ceil(960 * 32 / 13)), "snapshot_polls": (1440, 1440),
        "check_deletions": (30, 36)}
    # reads: every post once (+0.5 referenced), 50 replies per own post (80 % own), once each;
    # 5 open polls re-read each run but billed once a UTC day
    assert jobs["collect_posts"].post_reads == 10 * 4 * 30 * 1.5
    assert jobs["collect_replies"].post_reads == pytest.approx(10 * 4 * 0.8 * 30 * 50)
    assert (jobs["snapshot_polls"].post_reads, jobs["snapshot_polls"].billed_post_reads) == (
        1440 * 5, 5 * 30)
    assert (jobs["check_deletions"].post_reads, jobs["check_deletions"].billed_post_reads) == (
        1200 * 3, 1200 * 3)
    nonempty = 720 * (1 - math.exp(-10 / 6))
    assert jobs["collect_posts"].user_reads == pytest.approx(nonempty)
    assert jobs["collect_posts"].usd == pytest.approx(1800 * 0.01 + nonempty * 0.1 + 0.72)
    assert jobs["resolve_handles"].usd == pytest.approx(0.001 + 10 * 0.1)
    assert p.total_usd == pytest.approx(100 + sum(j.usd for j in p.jobs))
    assert p.rate_sources["posts_per_day"] == "given"
    assert p.rate_sources["own_share"] == "default"
    assert any("monthly_post_read_cap" in w for w in p.warnings)


def test_cost_without_dedupe_bills_every_read(tmp_path):
    data = json.loads(json.dumps(PRICED))
    data["x"]["pricing"]["dedupe_reads_per_utc_day"] = False
    p = project(parse_config(data, base_dir=tmp_path),
                {"posts_per_day": 4, "replies_per_post": 50, "polls_per_day": 0.5},
                measure=False)
    polls = next(j for j in p.jobs if j.job == "snapshot_polls")
    assert polls.billed_post_reads == polls.post_reads == 1440 * 5


def test_cost_warns_when_one_run_needs_more_than_the_budget(tmp_path):
    accounts = [{"handle": f"a{i}"} for i in range(150)]
    cfg = parse_config({"accounts": accounts, "x": {"timelines": {"batch_search": False}}},
                       base_dir=tmp_path)
    p = project(cfg, measure=False)
    assert p.schedule_source.startswith("the default schedule")
    assert any("collect_posts needs at least 150 requests" in w for w in p.warnings)
    # batched, the 150 accounts take 9 searches a run: within the budget
    p = project(parse_config({"accounts": accounts}, base_dir=tmp_path), measure=False)
    assert not any("collect_posts" in w for w in p.warnings)
    assert next(j for j in p.jobs if j.job == "collect_posts").requests == 2880 * 9


def _measured_db(tmp_path):
    """Two tracked accounts; a has 60 posts over 30 days (3 with polls), 30 replies to them
    from an outsider, 10 referenced posts; b has none."""
    cfg = parse_config({"storage": {"database": "db/t.duckdb", "raw_dir": "raw"},
                        "accounts": [{"handle": "a"}, {"handle": "b"}]}, base_dir=tmp_path)
    con = open_db(cfg.database)
    end = datetime(2022, 10, 31, tzinfo=timezone.utc)
    for acc, handle in (("1", "a"), ("2", "b")):
        con.execute("INSERT INTO account_handles (platform, account_id, handle, "
                    "first_seen_at, last_seen_at) VALUES ('x', ?, ?, ?, ?)",
                    [acc, handle, end, end])

    def post(pid, author, at, seen_in="data", conv=None):
        con.execute("INSERT INTO posts (platform, post_id, author_id, created_at, "
                    "conversation_id, seen_in, first_seen_at, last_seen_at) "
                    "VALUES ('x', ?, ?, ?, ?, ?, ?, ?)",
                    [pid, author, at, conv or pid, seen_in, at, at])

    for i in range(60):
        post(f"p{i}", "1", end - timedelta(hours=12 * i))
    for i in range(30):
        post(f"r{i}", "9", end - timedelta(hours=12 * i - 1), conv=f"p{i}")
    for i in range(10):
        post(f"i{i}", "8", end - timedelta(days=400), seen_in="includes")
    for i in range(3):
        con.execute("INSERT INTO polls (platform, poll_id, post_id, duration_minutes, "
                    "first_seen_at, last_seen_at) VALUES ('x', ?, ?, 2880, ?, ?)",
                    [f"poll{i}", f"p{i}", end, end])
    con.close()
    refresh_replica(cfg.database, cfg.replica)
    span = 59 * 12 / 24                       # newest to oldest post, in days
    return cfg, span


def test_cost_measures_posting_rates_in_the_database(tmp_path):
    cfg, span = _measured_db(tmp_path)
    p = project(cfg)
    assert p.rates["posts_per_day"] == pytest.approx(60 / span / 2)
    assert p.rates["replies_per_post"] == pytest.approx(30 / 60)
    assert p.rates["includes_per_post"] == pytest.approx(10 / 90)
    assert p.rates["polls_per_day"] == pytest.approx(3 / span / 2)
    assert p.rates["poll_days"] == pytest.approx(2)
    assert p.rates["own_share"] == 1
    assert p.rate_sources["posts_per_day"].startswith("measured: 60 posts of 2 accounts")


def test_cost_command(tmp_path):
    cfg, _ = _measured_db(tmp_path)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"storage": {"database": "db/t.duckdb", "raw_dir": "raw"},
                                    "accounts": [{"handle": "a"}, {"handle": "b"}]}))
    res = invoke("--config", str(path), "cost", "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["accounts"] == 2 and len(data["jobs"]) == 5
    assert data["rate_sources"]["replies_per_post"].startswith("measured")
    res = invoke("--config", str(path), "cost", "--posts-per-day", "3", "--no-measure")
    assert res.exit_code == 0, res.output
    assert "collect_posts" in res.output and "placeholder" not in res.output
    assert "posts per tracked account per day (timeline results): 3  (given)" in res.output


# ---- export -------------------------------------------------------------------------------


@pytest.fixture
def collected(world, make_cfg, clock, tmp_path):
    """Posts over two months, a poll with snapshots, an edit, a deletion."""
    world.add_user({"id": "100", "username": "alice", "name": "Alice"})
    for i in range(40):
        make_post(world, "100", clock.at - timedelta(days=45 - i), f"post {i}",
                  entities={"hashtags": [{"tag": "t"}]})
    world.add_poll({"id": "900", "duration_minutes": 60, "voting_status": "open",
                    "options": [{"position": 1, "label": "Yes", "votes": 1},
                                {"position": 2, "label": "No", "votes": 2}]})
    make_post(world, "100", clock.at - timedelta(minutes=5), "poll",
              attachments={"poll_ids": ["900"]})
    cfg = make_cfg()
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    world.set_poll("900", [5, 6], "closed")
    runner.run(cfg, "snapshot_polls", clock=clock, **NO_SLEEP)
    world.delete(sorted(world.tweets, key=int)[-2])
    runner.run(cfg, "check_deletions", clock=clock, **NO_SLEEP)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"storage": {"database": "db/tracker.duckdb",
                                                "raw_dir": "raw"}}))
    return load_config(path)


def _table_rows(con, table: str, source_sql: str) -> list[tuple]:
    cols = con.execute("SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_name = ? ORDER BY ordinal_position", [table]).fetchall()
    sel = ", ".join(f'"{c}"::VARCHAR' if t == "JSON" else f'"{c}"' for c, t in cols)
    return sorted(con.execute(f"SELECT {sel} FROM {source_sql}").fetchall(), key=repr)


def test_export_parquet_is_hive_partitioned_and_reads_back_identical(collected, tmp_path):
    cfg = collected
    out = tmp_path / "exp o'k; DROP TABLE posts"        # quotes and SQL in a path are data
    res = invoke("--config", str(cfg.source_path), "export", "--parquet", str(out))
    assert res.exit_code == 0, res.output
    months = sorted(p.name for p in (out / "posts" / "platform=x").iterdir())
    assert months == ["month=2022-08", "month=2022-09", "month=2022-10"]
    assert (out / "accounts.parquet").is_file() and (out / "_manifest.json").is_file()
    manifest = json.loads((out / "_manifest.json").read_text())
    con = duckdb.connect(str(cfg.replica), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        ).fetchall()]
        assert set(manifest["tables"]) == set(tables)
        for t in tables:
            part = out / t
            src = ("read_parquet(?, hive_partitioning = true)" if part.is_dir()
                   else "read_parquet(?)")
            glob = str(part / "**" / "*.parquet") if part.is_dir() else str(out / f"{t}.parquet")
            want = _table_rows(con, t, t)
            got = _table_rows(con, t, src.replace("?", "'" + glob.replace("'", "''") + "'"))
            assert got == want, t
            assert manifest["tables"][t] == len(want)
        assert len(_table_rows(con, "posts", "posts")) == 41
    finally:
        con.close()
    # any Parquet reader: pyarrow's dataset API with the Hive layout
    table = ds.dataset(out / "posts", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 41 and {"platform", "month", "post_id"} <= set(table.column_names)
    assert set(table.column("month").to_pylist()) == {"2022-08", "2022-09", "2022-10"}


def test_export_refuses_to_mix_with_an_old_export_unless_told(collected, tmp_path):
    out = tmp_path / "exp"
    args = ("--config", str(collected.source_path), "export", "--parquet", str(out))
    assert invoke(*args).exit_code == 0
    res = invoke(*args)
    assert res.exit_code == 1 and "--overwrite" in res.output
    assert invoke(*args, "--overwrite").exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".exp")) == []


def test_cost_without_accounts_says_what_to_add(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("accounts: []\n")
    res = CliRunner().invoke(cli, ["--config", str(cfg), "cost"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[-1] == ("no accounts to collect: list them under `accounts:` "
                                           "in the config, then run tracker cost again")
