"""The Mastodon source's parts on their own: handles and settings, ids and cursors, the text of
a status, the normalizer's edge cases, rate-limit headers, transport failures, redaction."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from mastodon_helpers import SOCIAL, TOKEN, api, clock, make_cfg, q, run, world  # noqa: F401
from tracker.core.errors import ConfigError, MalformedPage
from tracker.sources.mastodon.client import _reset_at, links
from tracker.sources.mastodon.config import MastodonConfig, mastodon_handle
from tracker.sources.mastodon.ids import order_key, qualify, split
from tracker.sources.mastodon.normalize import STATUS, STATUSES, normalize
from tracker.sources.mastodon.plan import cursor_rank
from tracker.sources.mastodon.text import html_text
from tracker.store.raw import list_raw_files, read_raw_file
from tracker.testing.mastodon import Fault

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("given, kept", [
    ("Gargron@mastodon.social", "Gargron@mastodon.social"),
    ("@alice@Social.Example", "alice@social.example"),
    ("dev_1@localhost:3000", "dev_1@localhost:3000"),
])
def test_handles_are_user_at_instance(given, kept):
    assert mastodon_handle(given) == kept


@pytest.mark.parametrize("bad", ["alice", "alice@", "@social.example", "a b@x.org",
                                 "alice@bad_host", "alice@x..org"])
def test_a_handle_without_its_instance_is_refused(bad):
    with pytest.raises(ValueError, match="user@instance"):
        mastodon_handle(bad)


def test_config_errors_name_the_setting(make_cfg):
    with pytest.raises(ConfigError, match=r"mastodon\.base_urls.*http\(s\) URL"):
        make_cfg(base_urls={SOCIAL: "ftp://x"})
    with pytest.raises(ConfigError, match=r"accounts\[0\]\.handle.*user@instance"):
        make_cfg(handles=("alice",))
    with pytest.raises(ConfigError, match="NAME of an environment variable"):
        make_cfg(access_token_env="abc def")
    cfg = MastodonConfig(base_urls={"Social.Example": "http://127.0.0.1:9/s/"})
    assert cfg.base_url("social.example") == "http://127.0.0.1:9/s"
    assert cfg.base_url("mastodon.social") == "https://mastodon.social"


def test_ids_are_qualified_by_instance_and_ordered_by_age():
    assert qualify("localhost:3000", "12") == "localhost:3000:12"
    assert split("localhost:3000:12") == ("localhost:3000", "12")
    with pytest.raises(ValueError):
        split("12")
    assert order_key("99") < order_key("100") < order_key("101")


def test_cursors_rank_by_what_they_cover_never_by_the_clock():
    a = {"newest_id": "99", "older_than": "50", "read": 40}
    b = {"newest_id": "99", "older_than": "10", "read": 80}
    c = {"newest_id": "99", "older_than": None, "read": 80}
    d = {"newest_id": "100", "older_than": None, "read": 80}
    assert cursor_rank(a) < cursor_rank(b) < cursor_rank(c) < cursor_rank(d)
    assert cursor_rank({"read_at": "2026-03-01T10:00:00Z"}) < \
        cursor_rank({"read_at": "2026-03-01T11:00:00Z"})


def test_status_html_reads_as_text():
    html = ('<p>Hi <span class="h-card"><a href="https://x.org/@bob" class="u-url mention">'
            '@<span>bob</span></a></span> &amp; all</p><p>see <a href="https://ex.org/a/b">'
            '<span class="invisible">https://</span><span class="ellipsis">ex.org/a</span>'
            '<span class="invisible">/b</span></a><br>bye</p>')
    assert html_text(html) == "Hi @bob & all\n\nsee https://ex.org/a/b\nbye"
    assert html_text("plain") == "plain" and html_text(None) is None


def record(endpoint, body, status=200, **params):
    return {"source": "mastodon", "endpoint": endpoint, "status": status,
            "params": {"instance": SOCIAL, **params}, "fetched_at": "2026-03-01T12:00:00Z",
            "body": body if isinstance(body, str) else json.dumps(body), "run_id": "r",
            "seq": 1}


def status(sid, **kw):
    return {"id": sid, "created_at": "2026-03-01T11:00:00.000Z", "content": "<p>x</p>",
            "account": {"id": "1", "acct": "alice", "username": "alice"}, **kw}


def test_a_page_with_odd_items_keeps_the_rest():
    rows = normalize(record(STATUSES, [status("5"), {"id": "6"}, "junk",
                                       status("7", poll={"options": "x"})]))
    assert [r["post_id"] for r in rows.tables["posts"]] == [f"{SOCIAL}:5", f"{SOCIAL}:7"]
    assert rows.skipped == ["status without an id or account"] * 2 + [
        f"poll of status {SOCIAL}:7: no id"]
    assert rows.items == 2 and "polls" not in rows.tables


def test_pages_that_cannot_be_read_are_quarantined():
    with pytest.raises(MalformedPage, match="invalid JSON"):
        normalize(record(STATUSES, "{not json"))
    with pytest.raises(MalformedPage, match="not a list"):
        normalize(record(STATUSES, {"id": "1"}))
    with pytest.raises(MalformedPage, match="params.instance"):
        normalize({**record(STATUS, status("1")), "params": {"id": "1"}})
    with pytest.raises(MalformedPage, match="no Mastodon normalizer"):
        normalize(record("GET /api/v1/instance", {}))


def test_only_the_apis_own_404_says_a_status_is_gone():
    html = normalize(record(STATUS, "<html>404 page of a proxy</html>", status=404, id="9"))
    assert html.post_status == [] and html.tables == {}
    api404 = normalize(record(STATUS, {"error": "Record not found"}, status=404, id="9"))
    assert api404.post_status == [("mastodon", f"{SOCIAL}:9", "not_found",
                                   "2026-03-01T12:00:00.000000Z")]
    assert normalize(record(STATUS, {"error": "Too many requests"}, status=429)).tables == {}


def test_a_hidden_count_is_null_and_a_missing_voters_count_too():
    poll = {"id": "3", "expires_at": "2026-03-02T00:00:00.000Z", "expired": False,
            "multiple": False, "votes_count": 9, "voters_count": None,
            "options": [{"title": "a", "votes_count": None}, {"title": "b"}]}
    rows = normalize(record(STATUS, status("1", poll=poll)))
    assert [(r["label"], r["votes"], r["voters_count"]) for r in rows.tables["poll_snapshots"]] \
        == [("a", None, None), ("b", None, None)]
    assert rows.tables["polls"][0]["post_id"] == f"{SOCIAL}:1"


def test_rate_limit_reset_is_read_against_the_servers_date():
    now = NOW
    # Mastodon: an ISO time; the server's clock runs 10 minutes ahead of ours
    headers = {"x-ratelimit-reset": "2026-03-01T12:15:00.000Z",
               "date": "Sun, 01 Mar 2026 12:10:00 GMT"}
    assert _reset_at(headers, now) == now + timedelta(minutes=5)
    # GoToSocial: epoch seconds
    assert _reset_at({"x-ratelimit-reset": str(int((now + timedelta(seconds=30)).timestamp()))},
                     now) == now + timedelta(seconds=30)
    assert _reset_at({"x-ratelimit-reset": "soon"}, now) is None


def test_link_headers_give_the_pages_ids():
    h = {"link": '<https://s.example/api/v1/accounts/1/statuses?limit=5&max_id=10>; '
                 'rel="next", <https://s.example/api/v1/accounts/1/statuses?limit=5&min_id=20>;'
                 ' rel="prev"'}
    assert links(h) == {"next": {"limit": "5", "max_id": "10"},
                        "prev": {"limit": "5", "min_id": "20"}}
    assert links({}) == {}


def test_a_connection_refused_is_retried_archived_and_reported(make_cfg, clock):
    cfg = make_cfg(base_urls={SOCIAL: "http://127.0.0.1:9"}, max_retries=1)
    r = run(cfg, "collect_posts", clock)
    assert r.status == "failed" and "gave up after 2 attempts: ConnectionError" in r.error
    assert q("SELECT http_status, error LIKE 'ConnectionError%' FROM raw_pages", cfg) == [
        (None, True), (None, True)]


def test_an_invalid_json_answer_is_retried(world, make_cfg, clock):
    alice = world.instance(SOCIAL).account("alice")
    world.instance(SOCIAL).post(alice, "hi", clock.at - timedelta(minutes=1))
    world.faults.append(Fault(r"/statuses$", status=200, body="[{truncated"))
    r = run(make_cfg(), "collect_posts", clock)
    assert (r.status, r.posts_read) == ("ok", 1)
    assert q("SELECT error LIKE '%invalid JSON%' FROM raw_pages WHERE purpose = 'statuses' "
             "ORDER BY page_id", make_cfg()) == [(True,), (None,)]


def test_a_token_a_server_echoes_is_redacted_in_raw(world, make_cfg, clock, monkeypatch):
    monkeypatch.setenv("MASTODON_TOKEN", TOKEN)
    world.instance(SOCIAL).account("alice")
    world.faults.append(Fault(r"/lookup$", status=401,
                              body=json.dumps({"error": f"bad token {TOKEN}"})))
    cfg = make_cfg()
    r = run(cfg, "collect_posts", clock)
    assert r.status == "failed" and TOKEN not in r.error
    text = "".join(json.dumps(line.record) for rel in list_raw_files(cfg.raw_dir)
                   for line in read_raw_file(cfg.raw_dir / rel))
    assert TOKEN not in text and "[REDACTED]" in text
