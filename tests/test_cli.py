"""The `tracker` command: help everywhere, the demo, sql exports, errors and exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner

from tests.denials_demo import demo_copy
from tracker.cli import cli
from tracker.core.lock import RunLock

README = Path(__file__).resolve().parents[1] / "README.md"
ANALYSIS = README.parent / "docs" / "analysis.md"      # the example queries


def invoke(*args, **kw):
    return CliRunner().invoke(cli, list(args), obj={}, catch_exceptions=False, **kw)


def all_commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, prefix + (name,))


@pytest.mark.parametrize("path", [p for p, _ in all_commands(cli)], ids=" ".join)
def test_every_command_has_help(path):
    res = invoke(*path, "--help")
    assert res.exit_code == 0, res.output
    assert "Usage:" in res.output
    cmd = cli
    for part in path:
        cmd = cmd.commands[part]
    assert cmd.help and len(cmd.help.strip()) > 20


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The demo's folder (a copy of this module's own) and what it printed."""
    d, output = demo_copy(tmp_path_factory, "demo")
    assert "Poll snapshots" in output and "Stored in" in output
    return d, output


@pytest.fixture(scope="module")
def demo_dir(demo_run):
    return demo_run[0]


def sql(demo_dir, query, *extra):
    return invoke("--config", str(demo_dir / "config.yaml"), "sql", *extra, "--", query)


def test_demo_stores_the_whole_episode(demo_dir):
    res = sql(demo_dir, """
        SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM posts),
               (SELECT count(*) FROM posts WHERE reply_to_post_id IS NOT NULL),
               (SELECT count(*) FROM post_versions), (SELECT count(*) FROM polls),
               (SELECT count(*) FROM poll_snapshots),
               (SELECT count(*) FROM posts WHERE deleted_at IS NOT NULL),
               (SELECT count(*) FROM runs WHERE status = 'ok'),
               (SELECT count(*) FROM raw_pages WHERE error IS NOT NULL)""", "--format", "csv")
    assert res.exit_code == 0, res.output
    # 6 phases x 12 runs (X: polls, posts, replies, deletions; Mastodon: the same; Bluesky:
    # posts, replies, deletions; the press), then the analysis. The Mastodon status has its
    # version row; Bluesky has no edits, so no versions.
    assert res.output.splitlines()[1] == "8,20,14,19,1,6,1,73,0"
    res = sql(demo_dir, "SELECT platform, count(*) FROM posts GROUP BY 1 ORDER BY 1",
              "--format", "csv")
    assert res.output.splitlines()[1:] == ["bluesky,1", "mastodon,1", "x,18"]
    res = sql(demo_dir, "SELECT source, count(*) FROM runs GROUP BY 1 ORDER BY 1",
              "--format", "csv")
    assert res.output.splitlines()[1:] == ["analysis,1", "bluesky,18", "mastodon,24",
                                           "press,6", "x,24"]


def readme_queries() -> list[str]:
    text = ANALYSIS.read_text(encoding="utf-8")
    section = text.split("## Example queries", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, re.S)


def test_readme_has_five_example_queries():
    assert len(readme_queries()) == 5


@pytest.mark.parametrize("n", range(5))
def test_readme_example_query_runs_on_the_demo(demo_dir, n, tmp_path):
    out = tmp_path / "q.csv"
    res = sql(demo_dir, readme_queries()[n].strip().rstrip(";"), "--format", "csv", "-o",
              str(out))
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    expected_rows = {0: 9, 1: 6, 2: 5, 3: 2, 4: 6}[n]
    assert len(df) == expected_rows
    if n == 1:
        assert df["pct"].tolist() == [40.8, 59.2, 41.1, 58.9, 40.8, 59.2]
        assert df["voting_status"].tolist() == ["open"] * 4 + ["closed"] * 2
    if n == 2:
        assert df["replies"].tolist() == [5, 4, 2, 2, 1]
    if n == 3:
        assert df["text"].str.contains("kremin's").tolist() == [True, False]


def test_sql_exports_json_and_parquet(demo_dir, tmp_path):
    res = sql(demo_dir, "SELECT post_id, text FROM posts ORDER BY post_id LIMIT 3",
              "--format", "json")
    assert res.exit_code == 0 and len(res.output.strip().splitlines()) == 3
    out = tmp_path / "posts.parquet"
    res = sql(demo_dir, "SELECT * FROM posts", "--format", "parquet", "-o", str(out))
    assert res.exit_code == 0
    df = pd.read_parquet(out)
    assert len(df) == 20 and str(df["created_at"].dt.tz) == "UTC"


def test_sql_refuses_writes(demo_dir):
    res = sql(demo_dir, "DELETE FROM posts")
    assert res.exit_code == 1
    assert "refused" in res.output and "read-only" in res.output
    assert sql(demo_dir, "SELECT count(*) FROM posts", "--format", "csv").output.split()[1] == "20"


def test_status_reports_runs_cursors_and_pending(demo_dir):
    res = invoke("--config", str(demo_dir / "config.yaml"), "status")
    assert res.exit_code == 0, res.output
    for part in ("last runs", "cursors", "pending raw files: 0", "posts=20"):
        assert part in res.output


def test_config_error_is_one_line_and_exit_2(tmp_path):
    p = tmp_path / "config.yaml"
    p.write_text("accounts:\n  - {platform: x, handle: ''}\n")
    res = invoke("--config", str(p), "collect", "x")
    assert res.exit_code == 2
    assert res.output.strip().endswith("accounts[0].handle: must not be empty")
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "data").exists()


def test_lock_held_exit_3(tmp_path, monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", "x")
    p = tmp_path / "config.yaml"
    p.write_text("accounts:\n  - {platform: x, handle: alice}\n")
    with RunLock(tmp_path / "data" / ".tracker.lock"):
        res = invoke("--config", str(p), "collect", "x")
    assert res.exit_code == 3 and "holds" in res.output


def test_init_then_load_and_rebuild(tmp_path):
    p = tmp_path / "config.yaml"
    p.write_text("accounts: []\n")
    assert invoke("--config", str(p), "init").exit_code == 0
    assert (tmp_path / "data" / "tracker.read.duckdb").exists()
    res = invoke("--config", str(p), "load")
    assert res.exit_code == 0 and "loaded 0 raw files" in res.output
    assert invoke("--config", str(p), "rebuild").exit_code == 0


def test_init_in_an_empty_folder_writes_a_starter_config_and_says_what_to_edit(tmp_path):
    from tracker.config import STARTER, load_config

    p = tmp_path / "config.yaml"
    res = invoke("--config", str(p), "init")
    assert res.exit_code == 0, res.output
    assert p.read_text() == STARTER.read_text()
    assert "edit config.yaml: the accounts to follow" in res.output
    assert "tracker cost" in res.output and "tracker collect  " in res.output
    cfg = load_config(p)
    assert (cfg.accounts, cfg.stories) == ([], [])
    assert (tmp_path / "data" / "tracker.duckdb").exists()
    # a second init keeps the (edited) config
    p.write_text(p.read_text().replace("accounts: []", "accounts: [{handle: someone}]"))
    res = invoke("--config", str(p), "init")
    assert res.exit_code == 0 and "wrote" not in res.output
    assert "accounts: [{handle: someone}]" in p.read_text()


def test_demo_story_in_order_with_exact_times(demo_dir):
    res = sql(demo_dir, """
        SELECT strftime(event_at, '%Y-%m-%dT%H:%MZ'), event_type, coalesce(actor, platform_or_outlet)
        FROM timeline WHERE story_id = 'musk-putin-call'
          AND event_type IN ('poll', 'claim', 'denial', 'rebuttal', 'coverage_of_claim')
        ORDER BY event_at, item_id""", "--format", "csv")
    assert res.exit_code == 0, res.output
    got = [tuple(line.split(",")) for line in res.output.splitlines()[1:]]
    firsts = []
    for row in got:                     # first appearance of each step, in order
        if row[1] not in [f[1] for f in firsts] or row[1] == "denial":
            firsts.append(row)
    assert firsts[:8] == [
        ("2022-10-03T15:58Z", "poll", "elonmusk"),
        ("2022-10-11T12:10Z", "claim", "ianbremmer"),
        ("2022-10-11T12:55Z", "coverage_of_claim", "Business Insider"),
        ("2022-10-11T13:40Z", "denial", "elonmusk"),
        # the same denial cross-posted minutes later (data/sample/cross_posts.json)
        ("2022-10-11T13:44Z", "denial", "elonmusk@mastodon.example"),
        ("2022-10-11T13:46Z", "denial", "elonmusk-sample.bsky.social"),
        ("2022-10-11T14:25Z", "rebuttal", "ianbremmer"),
        ("2022-10-11T17:05Z", "denial", "elonmusk"),
    ]
    assert (demo_dir / "report.html").stat().st_size > 100_000


def test_demo_collects_the_cross_posted_denial_and_prints_the_cross_platform_firsts(demo_run):
    demo_dir, output = demo_run
    text = " ".join(output.split())            # the terminal may wrap long lines
    # every platform's jobs ran through its local stand-in, each named (the runs that made
    # requests are printed)
    for line in ("poll posted · x collect_posts", "poll posted · mastodon collect_posts",
                 "poll posted · bluesky collect_posts",
                 "claim and denial · mastodon collect_replies",
                 "claim and denial · bluesky check_deletions"):
        assert line in text
    # the sample's only poll is on X: Mastodon's poll job runs and finds nothing to read
    res = sql(demo_dir, "SELECT source, sum(requests)::INT FROM runs WHERE job = "
              "'snapshot_polls' GROUP BY 1 ORDER BY 1", "--format", "csv")
    assert res.output.splitlines()[1:] == ["mastodon,0", "x,2"]
    assert ("Elon Musk (subject) · denial: x 2022-10-11 13:40Z first, then mastodon +4 min, "
            "bluesky +6 min") in text
    assert "ianbremmer (claimant) · claim: x 2022-10-11 12:10Z" in text
    assert "first denial 2022-10-11 13:40Z 1579829167518646282 (x)" in text
    res = sql(demo_dir, """
        SELECT person, event_type, platform, handle, strftime(first_at, '%H:%M'),
               platform_order, first_platform, after_first::VARCHAR
        FROM person_firsts WHERE story_id = 'musk-putin-call' AND event_type = 'denial'
        ORDER BY platform_order""", "--format", "csv")
    assert res.output.splitlines()[1:] == [
        "Elon Musk,denial,x,elonmusk,13:40,1,x,00:00:00",
        "Elon Musk,denial,mastodon,elonmusk@mastodon.example,13:44,2,x,00:04:00",
        "Elon Musk,denial,bluesky,elonmusk-sample.bsky.social,13:46,3,x,00:06:00"]
    res = sql(demo_dir, "SELECT platform, handle, role, person, account_id IS NOT NULL "
              "FROM story_actors ORDER BY role, platform", "--format", "csv")
    assert res.output.splitlines()[1:] == [
        "x,ianbremmer,claimant,ianbremmer,True",
        "bluesky,elonmusk-sample.bsky.social,subject,Elon Musk,True",
        "mastodon,elonmusk@mastodon.example,subject,Elon Musk,True",
        "x,elonmusk,subject,Elon Musk,True"]
    # the report: one lane for the person, whatever the platform, and the cross-posting table
    report = (demo_dir / "report.html").read_text(encoding="utf-8")
    assert report.count("Elon Musk · subject · bluesky, mastodon, x") == 1
    assert "@elonmusk · subject" not in report
    assert 'id="people-table"' in report and "6 min after x" in report


def story_queries_from_readme() -> list[str]:
    text = ANALYSIS.read_text(encoding="utf-8")
    section = text.split("### Story example queries", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, re.S)


def test_readme_story_queries_run_on_the_demo(demo_dir, tmp_path):
    queries = story_queries_from_readme()
    assert len(queries) == 3
    frames = []
    for i, q in enumerate(queries):
        out = tmp_path / f"s{i}.csv"
        res = sql(demo_dir, q.strip().rstrip(";"), "--format", "csv", "-o", str(out))
        assert res.exit_code == 0, res.output
        frames.append(pd.read_csv(out))
    timeline, firsts, stance = frames
    assert timeline["event_type"].tolist()[:4] == ["poll", "mention", "mention", "claim"]
    assert firsts["claim_to_denial"].tolist() == ["P0DT1H30M0S"]  # ISO 8601 durations
    assert stance["replies"].sum() == 9      # the 14 replies less the 5 by the actors


@pytest.fixture
def tiny_db(tmp_path):
    """An initialised database with three posts, its config's path."""
    import duckdb

    p = tmp_path / "config.yaml"
    p.write_text("accounts: []\n")
    assert invoke("--config", str(p), "init").exit_code == 0
    con = duckdb.connect(str(tmp_path / "data" / "tracker.duckdb"))
    con.execute("INSERT INTO posts (platform, post_id, text, created_at, first_seen_at, "
                "last_seen_at) VALUES ('x', '1', 'a/b', '2022-10-11 12:10:00+00', now(), "
                "now()), ('x', '2', 'c', NULL, now(), now()), ('x', '3', 'd', NULL, now(), "
                "now())")
    con.close()
    assert invoke("--config", str(p), "load").exit_code == 0      # refreshes the replica
    return p


def test_config_may_follow_the_command_or_come_from_the_environment(tiny_db, monkeypatch,
                                                                   tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    monkeypatch.chdir(elsewhere)                       # no config.yaml here
    q = "SELECT count(*) AS n FROM posts"
    assert invoke("sql", q, "--config", str(tiny_db), "--format", "csv").output == "n\n3\n"
    monkeypatch.setenv("TRACKER_CONFIG", str(tiny_db))
    assert invoke("sql", q, "--format", "csv").output == "n\n3\n"
    assert invoke("status", "--format", "json").exit_code == 0


def test_sql_reads_stdin_and_files_and_prints_every_statement(tiny_db, tmp_path):
    res = invoke("--config", str(tiny_db), "sql", "-", "--format", "csv",
                 input="SELECT post_id FROM posts ORDER BY 1")
    assert res.output == "post_id\n1\n2\n3\n"
    f = tmp_path / "q.sql"
    f.write_text("SELECT 1 AS a;\nSELECT 2 AS b;\n")
    res = invoke("--config", str(tiny_db), "sql", "--file", str(f))
    assert res.exit_code == 0
    assert res.output.index("SELECT 1 AS a") < res.output.index("┃ a ┃") \
        < res.output.index("SELECT 2 AS b") < res.output.index("┃ b ┃")
    res = CliRunner().invoke(cli, ["--config", str(tiny_db), "sql", "--file", str(f),
                                   "--format", "csv"], obj={})
    assert res.exit_code == 2 and "--format csv takes one statement; this SQL has 2" in res.output


def test_csv_and_json_times_carry_their_offset_and_json_keeps_slashes(tiny_db):
    q = "SELECT text, created_at FROM posts WHERE post_id = '1'"
    csv = invoke("--config", str(tiny_db), "sql", q, "--format", "csv").output
    assert csv == "text,created_at\na/b,2022-10-11T12:10:00.000000+00:00\n"
    js = invoke("--config", str(tiny_db), "sql", q, "--format", "json").output
    assert js == '{"text": "a/b", "created_at": "2022-10-11T12:10:00.000000+00:00"}\n'


def test_status_as_json(tiny_db):
    import json

    st = json.loads(invoke("--config", str(tiny_db), "status", "--format", "json").output)
    assert st["database"] == "ok" and st["counts"]["posts"] == 3
    assert st["pending_raw_files"] == [] and st["runs"] == []


def test_a_bad_time_zone_is_a_usage_error(tiny_db):
    res = CliRunner().invoke(cli, ["--config", str(tiny_db), "report", "s", "--tz", "Mars/Base"],
                             obj={})
    assert res.exit_code == 2


def test_export_of_the_demo_partitions_every_platform(demo_dir, tmp_path):
    """The demo holds X, Mastodon and Bluesky posts: the Parquet export has a partition per
    platform, and a Parquet reader counts each platform's posts as the database does."""
    import duckdb
    import pyarrow.dataset as ds

    out = tmp_path / "export"
    res = invoke("--config", str(demo_dir / "config.yaml"), "export", "--parquet", str(out))
    assert res.exit_code == 0, res.output
    con = duckdb.connect(str(demo_dir / "tracker.read.duckdb"), read_only=True)
    try:
        want = dict(con.execute("SELECT platform, count(*) FROM posts GROUP BY 1").fetchall())
    finally:
        con.close()
    assert set(want) == {"x", "mastodon", "bluesky"} and min(want.values()) > 0
    assert sorted(p.name for p in (out / "posts").iterdir()) == [
        "platform=bluesky", "platform=mastodon", "platform=x"]
    table = ds.dataset(out / "posts", format="parquet", partitioning="hive").to_table()
    got: dict[str, int] = {}
    for p in table.column("platform").to_pylist():
        got[p] = got.get(p, 0) + 1
    assert got == want
