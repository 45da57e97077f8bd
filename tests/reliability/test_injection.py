"""Injection: quotes, semicolons and SQL in story queries, handles, API data and CLI arguments
reach DuckDB only as parameters (they are data, stored verbatim, matched literally), and
`tracker sql` refuses every write, including the ones a read-only connection would let through
(ATTACH … READ_WRITE of the live database, COPY to a file).

After each attempt the database is compared, table by table, with its state before.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from click.testing import CliRunner

from tests.conftest import make_post
from tests.helpers import snapshot
from tracker.runs import runner
from tracker.cli import cli
from tracker.config import load_config

from .common import NO_SLEEP, q

EVIL = "x'); DROP TABLE posts; --"
PHRASE = "it's; DROP TABLE posts; --"


def invoke(*args):
    return CliRunner().invoke(cli, list(args), obj={})


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Alice and a user whose API name and posts are SQL; a story whose query is too.

    Built once for the module: every test but the analysis one leaves the database as it was
    (and asserts so).
    """
    from datetime import datetime, timezone

    from tests.conftest import TOKEN, Clock
    from tracker.testing.xapi import XWorld, serve

    tmp_path = tmp_path_factory.mktemp("injection")
    clock = Clock(datetime(2022, 10, 12, 12, 0, tzinfo=timezone.utc))
    world = XWorld(token=TOKEN)
    with pytest.MonkeyPatch.context() as mp, serve(world) as api:
        mp.setenv("X_BEARER_TOKEN", TOKEN)
        yield _build(world, api, clock, tmp_path)


def _build(world, api, clock, tmp_path):
    world.add_user({"id": "100", "username": "alice", "name": "Alice"})
    world.add_user({"id": "666", "username": "robert_tables",
                    "name": "Robert'); DROP TABLE accounts; --",
                    "description": "\"; DELETE FROM posts WHERE '1'='1"})
    claim = make_post(world, "100", clock.at - timedelta(hours=5),
                      f"Putin said {PHRASE} (quote) and O'Brien agreed")
    make_post(world, "100", clock.at - timedelta(hours=4), "unrelated")
    make_post(world, "666", clock.at - timedelta(hours=3), EVIL,
              conversation_id=claim["id"], in_reply_to_user_id="100",
              referenced_tweets=[{"type": "replied_to", "id": claim["id"]}])
    query = f'"{PHRASE}" OR ("O\'Brien" AND NOT "\'; DELETE FROM posts")'
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({
        "storage": {"database": "db/tracker.duckdb", "raw_dir": "raw"},
        "x": {"api_base_url": api, "backoff_base_seconds": 0},
        "accounts": [{"handle": "alice"}, {"handle": "robert_tables"}],
        "stories": [{"id": "quotes", "title": "Bobby'); DROP TABLE stories; --",
                     "query": query, "window": {"start": "2022-10-01", "end": "2022-10-31"},
                     "actors": [{"handle": "alice", "role": "claimant"},
                                {"handle": "robert_tables", "role": "subject"}]}],
    }, sort_keys=False), encoding="utf-8")
    cfg = load_config(path)
    assert runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP).status == "ok"
    assert runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP).status == "ok"
    return cfg, claim, query


def test_api_data_and_story_queries_are_data(stored):
    from tracker.runs.analyze import run_analysis

    cfg, claim, query = stored
    assert q(cfg.replica, "SELECT name, description FROM accounts WHERE account_id = '666'") == [
        ("Robert'); DROP TABLE accounts; --", "\"; DELETE FROM posts WHERE '1'='1")]
    assert q(cfg.replica, "SELECT count(*) FROM posts WHERE text = ?", [EVIL]) == [(1,)]
    r = run_analysis(cfg)
    assert r.status == "ok", r.error
    # the query matched literally: the phrase with its quote and semicolon, nothing else
    items = q(cfg.database, "SELECT item_id, event_type FROM story_items WHERE story_id = "
                            "'quotes' ORDER BY item_id")
    assert claim["id"] in {i for i, _ in items}
    assert q(cfg.database, "SELECT query, title FROM stories") == [
        (query, "Bobby'); DROP TABLE stories; --")]
    assert q(cfg.database, "SELECT count(*) FROM posts") == [(3,)]
    assert q(cfg.database, "SELECT count(*) FROM accounts") == [(2,)]


@pytest.mark.parametrize("args,code,says", [
    (["collect", "x", "--account", EVIL], 2, "not in config.yaml"),
    (["timeline", EVIL], 2, "no story"),
    (["report", EVIL], 1, "has not been analysed"),
    (["label", "quotes", EVIL, "denial"], 2, "give a post id"),
    (["label", "quotes", "post:1' OR '1'='1", "denial"], 1, "is not in the database"),
    (["label", "quotes", "https://news.example/a'; DROP TABLE articles; --", "denial"], 1,
     "is not in the database"),
    (["unlabel", "quotes", f"post:{EVIL}"], 1, "is not in the database"),
    (["status", "--runs", "1; DROP TABLE runs"], 2, "is not a valid integer"),
    (["press", "list", "--outlet", "x' OR '1'='1"], 0, "no articles"),
    (["sql", "SELECT * FROM posts WHERE text = 'x'' OR 1=1; --'"], 0, ""),
])
def test_cli_arguments_are_data(stored, args, code, says):
    cfg, _, _ = stored
    before = snapshot(cfg.database)
    res = invoke("--config", str(cfg.source_path), *args)
    assert res.exit_code == code, res.output
    assert says in res.output and "Traceback" not in res.output
    assert snapshot(cfg.database) == before


@pytest.mark.parametrize("sql", [
    "DROP TABLE posts",
    "DELETE FROM posts",
    "UPDATE posts SET text = 'x'",
    "INSERT INTO posts (platform, post_id, first_seen_at, last_seen_at) VALUES "
    "('x', '1', now(), now())",
    "CREATE TABLE evil AS SELECT 1",
    "SELECT 1; DROP TABLE posts",
    "ATTACH '{db}' AS live (READ_WRITE); DELETE FROM live.posts",
    "ATTACH '{db}' AS live (READ_WRITE)",
    "COPY posts TO '{dir}/stolen.csv'",
    "EXPORT DATABASE '{dir}/dump'",
    "INSTALL httpfs",
    "SET threads = 1",
    # statements the read-only check lets through: the connection itself refuses them
    "PRAGMA import_database('{dir}/evil')",
    "SELECT * FROM read_csv('{dir}/evil/schema.sql')",
    "PRAGMA memory_limit = '1GB'",
    "SELECT * FROM read_blob('{dir}/evil/load.sql')",
    "LOAD httpfs",
])
@pytest.mark.parametrize("live", [False, True])
def test_tracker_sql_refuses_every_write(stored, sql, live, tmp_path):
    cfg, _, _ = stored
    before = snapshot(cfg.database)
    evil = tmp_path / "evil"
    evil.mkdir(exist_ok=True)
    (evil / "schema.sql").write_text("CREATE TABLE evil (a INTEGER);\n"
                                     f"COPY (SELECT 1) TO '{tmp_path}/stolen.csv';\n")
    (evil / "load.sql").write_text("")
    text = sql.format(db=str(cfg.database), dir=str(tmp_path))
    res = invoke("--config", str(cfg.source_path), "sql", *(["--live"] if live else []),
                 "--", text)
    assert res.exit_code == 1, res.output
    assert "refused" in res.output or "read-only" in res.output, res.output
    assert snapshot(cfg.database) == before
    assert not (tmp_path / "stolen.csv").exists() and not (tmp_path / "dump").exists()
