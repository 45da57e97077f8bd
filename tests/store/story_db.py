"""A small story database (claim, press report, denial, rebuttal; a poll) made through
open_db, for the storage-version and reader tests."""

from __future__ import annotations

from pathlib import Path

from tracker.store.db import open_db

ROWS = """
INSERT INTO accounts (platform, account_id, handle, first_seen_at, last_seen_at) VALUES
  ('toy', '100', 'ian', '2022-10-11 07:00Z', '2022-10-11 12:00Z'),
  ('toy', '200', 'elon', '2022-10-11 07:00Z', '2022-10-11 12:00Z');
INSERT INTO posts (platform, post_id, author_id, created_at, text, reply_to_post_id,
                   edit_history, first_seen_at, last_seen_at) VALUES
  ('toy', '1', '100', '2022-10-11 08:00Z', 'He told me he spoke with Putin', NULL, '["1"]',
   '2022-10-11 08:05Z', '2022-10-11 12:00Z'),
  ('toy', '2', '200', '2022-10-11 09:30Z', 'I have spoken to Putin only once', '1', '["2"]',
   '2022-10-11 09:35Z', '2022-10-11 12:00Z'),
  ('toy', '3', '100', '2022-10-11 10:15Z', 'He told me', '2', '["3", "4"]',
   '2022-10-11 10:20Z', '2022-10-11 12:00Z');
INSERT INTO polls (platform, poll_id, post_id, options, first_seen_at, last_seen_at) VALUES
  ('toy', 'p1', '1', '["Yes", "No"]', '2022-10-11 08:05Z', '2022-10-11 12:00Z');
INSERT INTO poll_snapshots (platform, poll_id, captured_at, position, label, votes,
                            voting_status, page_id) VALUES
  ('toy', 'p1', '2022-10-11 09:00Z', 1, 'Yes', 30, 'open', 'r:1'),
  ('toy', 'p1', '2022-10-11 09:00Z', 2, 'No', 10, 'open', 'r:1');
INSERT INTO articles (url, domain, outlet, title, published_at, first_seen_at, last_seen_at,
                      outlet_domain) VALUES
  ('https://news.example/a', 'news.example', 'News', 'He says they spoke',
   '2022-10-11 08:45Z', '2022-10-11 09:00Z', '2022-10-11 12:00Z', 'news.example');
INSERT INTO stories (story_id, title, query, window_start, window_end, in_config) VALUES
  ('s1', 'Did they talk?', 'Putin', '2022-10-01 00:00Z', '2022-11-01 00:00Z', true);
INSERT INTO story_actors (story_id, platform, handle, role, account_id) VALUES
  ('s1', 'toy', 'ian', 'claimant', '100'), ('s1', 'toy', 'elon', 'subject', '200');
INSERT INTO story_items (story_id, item_kind, platform, item_id, event_type, rule, evidence,
                         confidence, parent_item_id) VALUES
  ('s1', 'post', 'toy', '1', 'claim', 'claimant-post', 'matched Putin', 0.9, NULL),
  ('s1', 'article', 'web', 'https://news.example/a', 'coverage_of_claim', 'matches-query',
   'matched Putin', 0.7, NULL),
  ('s1', 'post', 'toy', '2', 'denial', 'subject-answers-claimant', 'cue only once', 0.8, '1'),
  ('s1', 'post', 'toy', '3', 'rebuttal', 'claimant-answers-subject', 'reply', 0.8, '2');
"""

# the views' rows these tables give, as text (SET TimeZone = 'UTC')
TIMELINE_SQL = ("SELECT event_at::VARCHAR, clock, event_type, platform_or_outlet, actor, role "
                "FROM timeline WHERE story_id = 's1' ORDER BY event_at")
TIMELINE = [
    ["2022-10-11 08:00:00+00", "created_at", "claim", "toy", "ian", "claimant"],
    ["2022-10-11 08:45:00+00", "published_at", "coverage_of_claim", "News", None, "press"],
    ["2022-10-11 09:30:00+00", "created_at", "denial", "toy", "elon", "subject"],
    ["2022-10-11 10:15:00+00", "created_at", "rebuttal", "toy", "ian", "claimant"],
]
FIRSTS_SQL = ("SELECT first_claim_item, first_claim_press_item, first_denial_item, "
              "first_rebuttal_item, claim_to_press::VARCHAR, claim_to_denial::VARCHAR, "
              "denial_to_press::VARCHAR, denial_to_rebuttal::VARCHAR FROM story_firsts")
FIRSTS = [["1", "https://news.example/a", "2", "3", "00:45:00", "01:30:00", None, "00:45:00"]]
POSTS_SQL = ("SELECT post_id, created_at::VARCHAR, json_array_length(edit_history)::VARCHAR "
             "FROM posts ORDER BY post_id")
POSTS = [["1", "2022-10-11 08:00:00+00", "1"], ["2", "2022-10-11 09:30:00+00", "1"],
         ["3", "2022-10-11 10:15:00+00", "2"]]
POLL_SQL = "SELECT label, votes::VARCHAR, share::VARCHAR FROM poll_results ORDER BY position"
POLL = [["Yes", "30", "0.75"], ["No", "10", "0.25"]]


def story_db(path: Path, storage_version: str = "v1.0.0") -> Path:
    """A database at ``path`` holding ROWS, written in ``storage_version``."""
    con = open_db(path, storage_version=storage_version)
    try:
        con.execute(ROWS)
    finally:
        con.close()
    return path
