"""Secrets: a recognisable fake token, every command and every job at DEBUG, and a search of
everything the tracker wrote for it.

The token is read from an environment variable named in config.yaml (not X_BEARER_TOKEN, to
prove the configured name is the one protected). The local X server requires it, and one of its
answers is hostile: an error page that echoes the request's Authorization header back. Every
command of `tracker --help` runs (those this file does not know yet run with no arguments and
with --help), each logging at DEBUG to its own file; then the token must appear in no log line,
no command output, no exception text, no raw file (decompressed), no database value (every
column of every table of the database and its replica, and the files' bytes), no report, export
or other file under the data folder. One collection also runs as a real process logging to
stderr.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import click
import duckdb
import pytest
import yaml
from click.testing import CliRunner

from tests.conftest import make_post
from tracker.cli import cli
from tracker.testing.xapi import Fault, XWorld, serve

from .common import PY, subprocess_env

SECRET = "SECRET-tok-7f3a9c0e1b2d-DO-NOT-LOG"
ENV = "TRACKER_SECRET_TOKEN"
ECHO = '{"title": "Unauthorized", "detail": "bad header Authorization: Bearer %s"}' % SECRET


def all_commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, prefix + (name,))
        else:
            yield prefix + (name,)


@pytest.fixture
def setup(tmp_path, monkeypatch, clock):
    monkeypatch.setenv(ENV, SECRET)
    monkeypatch.delenv("X_BEARER_TOKEN", raising=False)
    world = XWorld(token=SECRET)
    world.add_user({"id": "100", "username": "alice", "name": "Alice"})
    world.add_user({"id": "200", "username": "bob", "name": "Bob"})
    world.add_poll({"id": "900", "duration_minutes": 600, "voting_status": "open",
                    "options": [{"position": 1, "label": "Yes", "votes": 3},
                                {"position": 2, "label": "No", "votes": 1}]})
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    claim = make_post(world, "100", now - timedelta(hours=3), "Putin told me, says the claim")
    make_post(world, "100", now - timedelta(hours=2), "Peace plan poll",
              attachments={"poll_ids": ["900"]})
    make_post(world, "200", now - timedelta(hours=1), "@alice not true, Putin never called",
              conversation_id=claim["id"], in_reply_to_user_id="100",
              referenced_tweets=[{"type": "replied_to", "id": claim["id"]}])
    # the hostile answer: the first replies search gets the token echoed back (HTTP 400)
    world.faults.append(Fault(r"/search/recent$", status=400, body=ECHO))
    with serve(world) as api:
        data = tmp_path / "data"
        cfg = {
            "storage": {"database": "data/tracker.duckdb", "raw_dir": "data/raw"},
            "x": {"api_base_url": api, "bearer_token_env": ENV, "backoff_base_seconds": 0,
                  "max_retries": 1},
            "accounts": [{"handle": "alice"}, {"handle": "bob"}],
            "press": {"feeds": [{"name": "Local", "url": api + "/feed.xml"}],
                      "gdelt": {"enabled": False}},
            "stories": [{"id": "call", "title": "A call?", "query": "Putin",
                         "window": {"start": (now - timedelta(days=2)).date().isoformat(),
                                    "end": now.date().isoformat()},
                         "actors": [{"handle": "alice", "role": "claimant"},
                                    {"handle": "bob", "role": "subject"}]}],
            "schedule": {"jobs": {"collect_posts": {"cron": "*/15 * * * *"},
                                  "snapshot_polls": {"cron": "*/10 * * * *"}}},
        }
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        page = tmp_path / "page.html"
        page.write_text('<html lang="en"><head><title>Musk and Putin</title>'
                        '<link rel="canonical" href="https://news.example/2022/10/call">'
                        '<meta property="article:published_time" '
                        'content="2022-10-11T10:00:00Z"></head><body><article><p>'
                        + "The billionaire denied the call with Putin. " * 20
                        + "</p></article></body></html>", encoding="utf-8")
        imp = tmp_path / "import.jsonl"
        imp.write_text('{"data": [{"id": "1576994746135764992", "text": "imported post", '
                       '"author_id": "300", "created_at": "2022-10-03T17:57:01.000Z", '
                       '"edit_history_tweet_ids": ["1576994746135764992"]}], '
                       '"includes": {"users": [{"id": "300", "username": "carol", '
                       '"name": "Carol"}]}}\n', encoding="utf-8")
        yield tmp_path, path, data, world


def table_of_invocations(tmp: Path, post_id: str) -> dict[tuple, list[list[str]]]:
    """Arguments for every command this file knows (each list is one invocation)."""
    return {
        ("init",): [[]],
        ("collect", "x"): [[]],
        ("collect", "replies"): [[]],
        ("collect", "press"): [[]],
        ("snapshot-polls",): [[]],
        ("check-deletions",): [[]],
        ("load",): [[], ["--retry-failed"]],
        ("rebuild",): [[]],
        ("status",): [[]],
        ("sql",): [["SELECT * FROM runs"], ["--format", "csv", "-o", str(tmp / "q.csv"),
                                            "SELECT * FROM raw_pages"],
                   ["DROP TABLE posts"]],
        ("demo",): [["--dir", str(tmp / "demo")]],
        ("press", "add"): [[str(tmp / "page.html")]],
        ("press", "list"): [[]],
        ("run",): [[job] for job in ("collect_posts", "snapshot_polls", "collect_replies",
                                     "check_deletions", "collect_press", "analyze")],
        ("cron",): [["--env-file", str(tmp / "secret.env")]],
        ("schedule",): [["--dry-run"]],
        ("import",): [["twarc2", str(tmp / "import.jsonl")]],
        ("analyze",): [[]],
        ("stories",): [[]],
        ("timeline",): [["call"], ["call", "--format", "json", "-o", str(tmp / "t.json")]],
        ("label",): [["call", post_id, "denial", "--note", "checked by hand"]],
        ("unlabel",): [["call", post_id]],
        ("report",): [["call", "-o", str(tmp / "report.html")]],
        ("cost",): [[], ["--format", "json"]],
        ("export",): [["--parquet", str(tmp / "export")]],
    }


def secret_in_database(path: Path) -> list[str]:
    hits = []
    if SECRET.encode() in path.read_bytes():
        hits.append(f"{path.name}: bytes")
    con = duckdb.connect(str(path), read_only=True)
    try:
        for table, col in con.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'main'").fetchall():
            n = con.execute(f'SELECT count(*) FROM "{table}" WHERE "{col}"::VARCHAR '
                            f"LIKE '%' || ? || '%'", [SECRET]).fetchall()[0][0]
            if n:
                hits.append(f"{path.name}: {table}.{col}")
    finally:
        con.close()
    return hits


def secret_in_files(root: Path) -> list[str]:
    hits = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.suffix in (".wal",):
            continue
        if p.name.endswith(".duckdb"):
            hits += secret_in_database(p)
            continue
        raw = p.read_bytes()
        if p.suffix == ".gz":
            raw = b"".join(gzip.decompress(raw).splitlines())
        elif p.suffix == ".parquet":
            raw = str(duckdb.connect().execute(f"SELECT * FROM read_parquet('{p}')").fetchall()).encode()
        if SECRET.encode() in raw:
            hits.append(str(p.relative_to(root)))
    return hits


def test_the_token_is_in_no_log_output_file_or_database(setup):
    tmp, config, data, world = setup
    runner = CliRunner()
    logs = tmp / "logs"
    logs.mkdir()
    seen: list[str] = []
    ran: dict[tuple, list[int]] = {}
    n = 0

    def run(path: tuple, args: list[str]):
        nonlocal n
        n += 1
        log = logs / f"{n:02d}-{'-'.join(path)}.log"
        res = runner.invoke(cli, ["--config", str(config), "--log-level", "DEBUG",
                                  "--log-file", str(log), *path, *args], obj={})
        text = res.output + (res.stderr if res.stderr_bytes is not None else "")
        if res.exception and not isinstance(res.exception, SystemExit):
            import traceback

            text += "".join(traceback.format_exception(res.exception))
        seen.append(f"$ tracker {' '.join(path + tuple(args))}\n{text}")
        assert SECRET not in text, f"tracker {' '.join(path)} printed the token"
        ran.setdefault(path, []).append(res.exit_code)
        return res

    known = table_of_invocations(tmp, "0")
    order = list(known)
    for path in order:
        args_list = known[path]
        if path in (("label",), ("unlabel",)):
            # an item that exists: the claim
            con = duckdb.connect(str(data / "tracker.read.duckdb"), read_only=True)
            post = con.execute("SELECT post_id FROM posts WHERE text LIKE 'Putin told%'"
                               ).fetchall()[0][0]
            con.close()
            args_list = table_of_invocations(tmp, post)[path]
        if path not in {tuple(p) for p in all_commands(cli)}:
            continue                     # a part not installed in this checkout
        for args in args_list:
            run(path, args)
    unknown = [p for p in all_commands(cli) if p not in known]
    for path in unknown:                 # commands added since: at least these
        run(path, ["--help"])
        run(path, [])

    # a real process, logging at DEBUG to stderr, tweepy's own logger turned up too
    env = subprocess_env(**{ENV: SECRET})
    proc = subprocess.run([PY, "-m", "tracker", "--config", str(config), "--log-level", "DEBUG",
                           "collect", "x"], capture_output=True, text=True, env=env, cwd=tmp,
                          timeout=120)
    assert SECRET not in proc.stdout + proc.stderr
    # the scheduler as a service for a moment, at DEBUG
    sched = subprocess.Popen([PY, "-m", "tracker", "--config", str(config), "--log-level",
                              "DEBUG", "schedule", "--fast", "0.5"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env, cwd=tmp)
    time.sleep(4)
    sched.send_signal(signal.SIGTERM)
    out, errs = sched.communicate(timeout=60)
    assert SECRET not in out + errs

    # the commands did their work (this is not a test of nothing)
    assert ran[("collect", "x")] == [1]            # the echoed 400 fails the replies step
    assert ran[("sql",)] == [0, 0, 1]              # the DROP is refused
    assert all(code == 0 for p in (("init",), ("status",), ("load",), ("rebuild",))
               for code in ran[p])
    log_text = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                         for p in logs.iterdir())
    assert " DEBUG " in log_text and "[REDACTED]" not in SECRET
    assert SECRET not in log_text
    assert world.requests and all(r.authorization == f"Bearer {SECRET}"
                                  for r in world.requests if r.path.startswith("/2/"))
    # the echo reached the archive, redacted
    raw = b"".join(gzip.decompress(p.read_bytes()) for p in (data / "raw").rglob("*.gz"))
    assert b"bad header Authorization: Bearer [REDACTED]" in raw
    # and nothing anywhere holds the token
    assert secret_in_files(tmp) == []
    # (the search does find it where it is: a canary)
    canary = tmp / "canary"
    canary.mkdir()
    (canary / "c.jsonl.gz").write_bytes(gzip.compress(SECRET.encode()))
    con = duckdb.connect(str(canary / "c.duckdb"))
    con.execute("CREATE TABLE t AS SELECT ? AS v", [f"x{SECRET}x"])
    con.close()
    assert secret_in_files(canary) == ["c.duckdb: bytes", "c.duckdb: t.v", "c.jsonl.gz"]
    assert os.environ[ENV] == SECRET
