"""Adding an item to a YAML list, every other byte of the file kept (tracker/core/yamledit.py)."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from tracker.core.errors import ConfigError
from tracker.core.yamledit import append_to_list, block_item, scalar

ITEM = {"id": "new-one", "title": "It's new: yes", "window": {"start": date(2024, 2, 23),
                                                              "end": date(2024, 3, 15)},
        "actors": [{"platform": "x", "handle": "carol", "role": "claimant"}]}
BLOCK = """\
  - id: new-one
    title: 'It''s new: yes'
    window: {start: 2024-02-23, end: 2024-03-15}
    actors:
      - {platform: x, handle: carol, role: claimant}
"""

HAND_WRITTEN = """\
# my tracker   (aligned comments, odd quoting, a list indented under its key)
storage:
  database:   "data/tracker.duckdb"    # keep
accounts:
  - {platform: x,   handle: elonmusk}
stories:
  - id: first
    title: "First"   # a comment after a value
    query: 'a OR b'

    window: {start: "2022-10-01", end: "2022-10-31"}
  # a commented-out story, at the dash's column
  # - id: later
x:
  api_base_url: https://api.x.com
"""


def test_the_item_goes_after_the_last_one_and_nothing_else_moves():
    out = append_to_list(HAND_WRITTEN, "stories", ITEM)
    cut = HAND_WRITTEN.index("  # a commented-out story")
    assert out == HAND_WRITTEN[:cut] + BLOCK + HAND_WRITTEN[cut:]
    want = yaml.safe_load(HAND_WRITTEN)
    want["stories"].append(ITEM)
    assert yaml.safe_load(out) == want


def test_dashes_at_the_keys_column_and_a_comment_line():
    text = "stories:\n- id: a\n  title: A\n# next section\npress:\n  feeds: []\n"
    out = append_to_list(text, "stories", {"id": "b"}, comment="from a denial")
    assert out == ("stories:\n- id: a\n  title: A\n# from a denial\n- id: b\n"
                   "# next section\npress:\n  feeds: []\n")


@pytest.mark.parametrize("text, want", [
    ("a: 1\nstories: []\nb: 2\n", "a: 1\nstories:\n  - id: b\nb: 2\n"),
    ("a: 1\nstories: []   # none yet\n", "a: 1\nstories:   # none yet\n  - id: b\n"),
    ("a: 1\nstories:\nb: 2\n", "a: 1\nstories:\n  - id: b\nb: 2\n"),
    ("a: 1\n", "a: 1\n\nstories:\n  - id: b\n"),
    ("a: 1", "a: 1\n\nstories:\n  - id: b\n"),            # the missing last newline added
    ("", "stories:\n  - id: b\n"),
    ("# only a comment\n", "# only a comment\n\nstories:\n  - id: b\n"),
])
def test_empty_or_missing_lists(text, want):
    assert append_to_list(text, "stories", {"id": "b"}) == want


def test_windows_line_ends_are_kept():
    text = "a: 1\r\nstories:\r\n  - id: a\r\nb: 2\r\n"
    assert append_to_list(text, "stories", {"id": "b", "n": 2}) == (
        "a: 1\r\nstories:\r\n  - id: a\r\n  - id: b\r\n    n: 2\r\nb: 2\r\n")


def test_a_line_separator_inside_a_value_does_not_shift_lines():
    text = "stories:\n  - id: a\n    title: \"x\u2028y\"\nb: 2\n"
    out = append_to_list(text, "stories", {"id": "b"})
    assert out == "stories:\n  - id: a\n    title: \"x\u2028y\"\n  - id: b\nb: 2\n"


@pytest.mark.parametrize("text, msg", [
    ("stories: [{id: a}]\n", r"stories: is written as a \[...\] list; add the item by hand"),
    ("stories: {id: a}\n", "stories: is not a list"),
    ("stories: text\n", "stories: is not a list"),
    ("- a\n- b\n", "the top level is not a mapping of sections"),
    ("a: [\n", "invalid YAML"),
])
def test_what_it_will_not_edit(text, msg):
    with pytest.raises(ConfigError, match=msg):
        append_to_list(text, "stories", {"id": "b"})


@pytest.mark.parametrize("value, text", [
    ("plain-id_1", "plain-id_1"), ("user@mastodon.social", "user@mastodon.social"),
    ("yes", "'yes'"), ("No", "'No'"), ("null", "'null'"), ("2022", "'2022'"),
    ("2022-10-01", "'2022-10-01'"), ("1e3", "'1e3'"), ("a: b", "'a: b'"), ("#x", "'#x'"),
    ("it's", "'it''s'"), ("-x", "'-x'"), ("", "''"), ("tab\there", '"tab\\there"'),
    (None, "null"), (True, "true"), (3, "3"), (0.5, "0.5"), (date(2024, 1, 2), "2024-01-02"),
])
def test_scalars_read_back_as_themselves(value, text):
    assert scalar(value) == text
    assert yaml.safe_load(f"k: {text}")["k"] == value


def test_block_item_style():
    assert block_item({"a": 1, "m": {"x": "y z"}, "l": ["p", {"q": 1}]}, 4) == (
        "    - a: 1\n      m: {x: 'y z'}\n      l:\n        - p\n        - {q: 1}\n")
