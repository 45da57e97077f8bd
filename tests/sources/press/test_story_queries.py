"""Stories feed GDELT: each story's query, in GDELT syntax, over the story's window."""

from __future__ import annotations

from tracker.config import parse_config
from tracker.sources.press.job import story_queries


def test_each_expressible_story_becomes_a_gdelt_query():
    cfg = parse_config({
        "press": {"gdelt": {"enabled": True},
                  "queries": [{"name": "story-b", "query": "manual", "start": "2022-10-01"}]},
        "stories": [
            {"id": "a", "title": "A", "query": '(Putin OR Kremlin) AND (Musk OR "Elon")',
             "window": {"start": "2022-10-01", "end": "2022-10-31"}},
            {"id": "b", "title": "B", "query": "x", "window": {"start": "2022-10-01",
                                                               "end": "2022-10-02"}},
            {"id": "c", "title": "C", "query": "(a AND b) OR c",
             "window": {"start": "2022-10-01", "end": "2022-10-02"}},
        ]})
    got = [(q.name, q.query, q.start_at.isoformat(), q.end_at.isoformat())
           for q in story_queries(cfg)]
    assert got == [("story-a", "(Putin OR Kremlin) (Musk OR Elon)",
                    "2022-10-01T00:00:00+00:00", "2022-11-01T00:00:00+00:00")]
