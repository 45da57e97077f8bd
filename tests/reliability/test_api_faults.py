"""API faults from the local server, injected in the middle of a pagination.

Each kind of fault is tried twice against a 250-post timeline (users/by + 3 pages of 100, 100,
50), hitting the second page:

- a burst (2 faulty answers): the run retries within its bounds and ends ``ok`` with every post
  read once;
- a storm (every answer faulty): the run ends with a clear status (``failed`` for errors,
  ``stopped`` for rate limits), its first page stored and the gap in the cursor; the next run,
  once the API is healthy, reads exactly the 150 missing posts with ``until_id`` and nothing
  twice.

Already covered elsewhere (not repeated): a single 429 with a near or far reset, the usage cap,
a 503 then success, persistent 5xx, one truncated body, the budget running out mid-pagination,
a repeating pagination token (tests/sources/x/test_collect.py).
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import rows
from tracker.runs import runner
from tracker.testing.xapi import Fault

from .common import arm_after, covers, cursor_of, seed, served_posts

HTML = ("<!DOCTYPE html><html><head><title>Something went wrong</title></head>"
        "<body><h1>Over capacity</h1></body></html>")
TOO_MANY = '{"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429}'
NO_RESET = {"x-rate-limit-reset": None, "x-rate-limit-remaining": None,
            "x-rate-limit-limit": None}

# kind -> (Fault factory, expected text in the error / stop reason, raw_pages status,
#          the persistent outcome)
KINDS = {
    "5xx": (lambda clock: Fault(r"/tweets$", status=503), "HTTP 503", 503, "failed"),
    "timeout": (lambda clock: Fault(r"/tweets$", delay=0.6), "ReadTimeout", None, "failed"),
    "connection reset": (lambda clock: Fault(r"/tweets$", reset=True), "Connection", None,
                         "failed"),
    "html 200": (lambda clock: Fault(r"/tweets$", status=200, body=HTML,
                                     headers={"Content-Type": "text/html; charset=utf-8"}),
                 "invalid JSON body", 200, "failed"),
    "truncated": (lambda clock: Fault(r"/tweets$", truncate=True), "invalid JSON body", 200,
                  "failed"),
    "429 no reset header": (lambda clock: Fault(r"/tweets$", status=429, body=TOO_MANY,
                                                headers=NO_RESET),
                            "still rate limited", 429, "stopped"),
    "429 near reset": (lambda clock: Fault(r"/tweets$", status=429, body=TOO_MANY, headers={
        "x-rate-limit-reset": str(int(clock.at.timestamp()) + 20)}),
        "still rate limited", 429, "stopped"),
    "429 unreadable reset": (lambda clock: Fault(r"/tweets$", status=429, body=TOO_MANY,
                                                 headers={"x-rate-limit-reset": "soon"}),
                             "still rate limited", 429, "stopped"),
}
WAIT_BOUND = 10          # x.backoff_max_seconds in these tests: no single wait is longer


def _cfg(make_cfg):
    return make_cfg(max_retries=2, timeout_seconds=0.2, backoff_base_seconds=1,
                    backoff_max_seconds=WAIT_BOUND, max_rate_limit_wait_seconds=60)


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_burst_mid_pagination_is_retried_and_nothing_is_lost(kind, world, make_cfg, clock):
    factory, _, status, _ = KINDS[kind]
    posts = seed(world, clock, 250)
    fault = factory(clock)
    fault.times = 2
    arm_after(world, r"/tweets$", 1, fault)
    cfg = _cfg(make_cfg)
    slept = []
    r = runner.run(cfg, "collect_posts", clock=clock, sleep=slept.append)
    assert (r.status, r.error, r.stop_reason) == ("ok", None, None)
    assert (r.requests, r.posts_read) == (1 + 3 + 2, 250)
    assert len(slept) == 2 and all(0 <= s <= WAIT_BOUND + 21 for s in slept)
    assert rows(cfg, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(250, 250)]
    assert {p for (p,) in rows(cfg, "SELECT post_id FROM posts")} == {p["id"] for p in posts}
    # every attempt is archived: page 1, two faulty answers, page 2 again, page 3
    got = rows(cfg, "SELECT http_status, error IS NOT NULL FROM raw_pages "
                    "WHERE purpose = 'timeline' ORDER BY seq")
    assert got[0] == (200, False) and got[3:] == [(200, False), (200, False)]
    assert [s for s, _ in got[1:3]] == [status, status]
    assert covers(cursor_of(cfg.replica, "timeline:100"), posts[-1]["id"])


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_storm_ends_the_run_clearly_and_the_next_run_fills_the_gap(kind, world, make_cfg,
                                                                     clock):
    factory, text, status, outcome = KINDS[kind]
    posts = seed(world, clock, 250)
    fault = factory(clock)
    fault.times = 1000
    arm_after(world, r"/tweets$", 1, fault)
    cfg = _cfg(make_cfg)
    slept = []
    r = runner.run(cfg, "collect_posts", clock=clock, sleep=slept.append)
    assert r.status == outcome
    assert r.exit_code == (4 if outcome == "stopped" else 1)
    reason = r.stop_reason if outcome == "stopped" else r.error
    assert text in reason and "\n" not in reason
    # users/by, page 1, then 1 + x.max_retries (2) attempts at page 2
    assert (r.requests, r.posts_read) == (1 + 1 + 3, 100)
    assert len(slept) == 2 and all(s <= WAIT_BOUND + 21 for s in slept)   # bounded waits
    assert rows(cfg, "SELECT count(*) FROM posts") == [(100,)]
    assert rows(cfg, "SELECT status FROM runs") == [(outcome,)]
    gap = cursor_of(cfg.replica, "timeline:100")["gap"]
    assert gap["read"] == 100 and gap["until_id"] == posts[150]["id"]
    assert rows(cfg, "SELECT count(*) FROM raw_pages WHERE purpose = 'timeline' AND "
                     "http_status IS NOT DISTINCT FROM ?", [status]) == [
        (3 if status != 200 else 4,)]

    fault.times = 0                                # the API recovers
    before = len(world.requests)
    again = runner.run(cfg, "collect_posts", clock=clock, sleep=slept.append)
    # the two missing pages (until_id), then one since_id request for anything newer
    assert (again.status, again.requests, again.posts_read) == ("ok", 3, 150)
    assert world.requests[before].params["until_id"] == gap["until_id"]
    assert rows(cfg, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(250, 250)]
    assert {p for (p,) in rows(cfg, "SELECT post_id FROM posts")} == served_posts(world)
    assert rows(cfg, "SELECT status FROM runs ORDER BY started_at") == [(outcome,), ("ok",)]
    assert covers(json.loads(rows(cfg, "SELECT cursor FROM sync_state")[0][0]), posts[-1]["id"])
