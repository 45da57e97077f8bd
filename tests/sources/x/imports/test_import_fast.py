"""The vectorized twarc2 path gives exactly the rows of the Python path (the X normalizer on
every line), over the whole corpus and over lines of every odd shape."""

from __future__ import annotations

import copy
import json
import os
from datetime import datetime, timezone

import pytest

from tests.conftest import Clock, corpus_dir
from tracker.sources.x.imports import normalize as import_normalize

from .helpers import DATA_TABLES, config, query, run_import, tables

FILES = ["brexit.jsonl", "counts.jsonl", "edited.jsonl", "edited_after.jsonl",
         "edited_before.jsonl", "entities_test.jsonl", "flat.jsonl", "noflat.jsonl",
         "quoted_edit.jsonl", "streaming_output_with_error.jsonl", "users.jsonl",
         "withheld.jsonl"]
COMPARED = DATA_TABLES + ("raw_pages",)


def both_ways(tmp_path, monkeypatch, *paths, **kw):
    """Import with the vectorized path forced on, then off; return both databases' rows."""
    got = {}
    for mode in ("always", "0"):
        monkeypatch.setenv("TRACKER_IMPORT_FAST", mode)
        cfg = config(tmp_path / mode)
        clock = Clock(datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc))   # same import time
        result = run_import(cfg, "twarc2", *paths, clock=clock, **kw)
        rows = tables(cfg, COMPARED, strip_page_ids=True)
        # raw_pages: endpoint, params, scope, status, line, items and error of every page
        # (not the run id nor the raw file's name, which differ)
        rows["raw_pages"] = [r[5:8] + r[9:10] + r[11:] for r in rows["raw_pages"]]
        got[mode] = (rows, result)
    return got["always"], got["0"]


def test_whole_corpus_same_rows(tmp_path, monkeypatch):
    corpus = corpus_dir("x-api-v2")
    taken = []
    real = import_normalize.python_line

    def spy(ch, ln, line, at):
        if os.environ["TRACKER_IMPORT_FAST"] == "always":
            taken.append((ch.file.rsplit("/", 1)[-1], ln))
        return real(ch, ln, line, at)

    monkeypatch.setattr(import_normalize, "python_line", spy)
    (fast, fres), (slow, sres) = both_ways(tmp_path, monkeypatch,
                                           *[corpus / n for n in FILES])
    assert fast == slow
    assert fres.tables == sres.tables
    assert fres.details["stats"].bad == sres.details["stats"].bad
    assert fres.details["stats"].items == sres.details["stats"].items
    # the vectorized path took every API page; Python only the flattened tweets, the counts
    # page (its items have no id) and the truncated line
    vectorized_misses = {(f, ln) for f, ln in taken if f != "flat.jsonl"}
    assert ("streaming_output_with_error.jsonl", 8) in vectorized_misses
    assert {f for f, _ in vectorized_misses} <= {"counts.jsonl",
                                                 "streaming_output_with_error.jsonl"}
    assert len(fast["posts"]) == 1319


def _page(corpus) -> dict:
    return json.loads((corpus / "brexit.jsonl").read_text().splitlines()[0])


def odd_lines(corpus) -> list[str]:
    """Each line: a real page with one thing changed to a shape the API does not send."""
    base = _page(corpus)
    lines = []

    def variant(fn):
        p = copy.deepcopy(base)
        p["data"] = p["data"][:3]
        p["includes"]["tweets"] = p["includes"]["tweets"][:2]
        fn(p)
        lines.append(json.dumps(p, ensure_ascii=False))

    t0 = lambda p: p["data"][0]                                        # noqa: E731
    variant(lambda p: None)                                            # a plain page
    variant(lambda p: t0(p)["public_metrics"].update(like_count="5"))  # a quoted count
    variant(lambda p: t0(p)["public_metrics"].update(like_count=2.0))
    variant(lambda p: t0(p)["public_metrics"].update(like_count=True))
    variant(lambda p: t0(p)["public_metrics"].update(like_count=2 ** 70))
    variant(lambda p: t0(p).update(id=int(t0(p)["id"])))               # a numeric id
    variant(lambda p: t0(p).update(text=True))
    variant(lambda p: t0(p).update(text=None, username="somebody"))
    variant(lambda p: t0(p).pop("text") and t0(p).update(username="somebody"))
    variant(lambda p: t0(p).update(lang=12))
    variant(lambda p: t0(p).update(id=""))
    variant(lambda p: t0(p).update(attachments={"poll_ids": ["", "124"]}))
    variant(lambda p: t0(p).update(edit_history_tweet_ids=["", t0(p)["id"]]))
    variant(lambda p: t0(p).update(created_at="2021-09-22T16:37:29Z"))
    variant(lambda p: t0(p).update(created_at="not a date"))
    variant(lambda p: t0(p).update(created_at="2021-09-22 16:37:29"))
    variant(lambda p: t0(p).update(created_at="2021-02-30T16:37:29.000Z"))
    variant(lambda p: t0(p).update(created_at="2021-02-01T24:00:00.000Z"))
    variant(lambda p: t0(p).update(created_at="2021-02-01T10:00:00+05:30"))
    variant(lambda p: t0(p).update(referenced_tweets=[5, {"type": "", "id": "1"},
                                                      {"type": "quoted", "id": 77}]))
    variant(lambda p: t0(p).update(referenced_tweets=[{"type": "quoted", "id": "77"},
                                                      {"type": "quoted", "id": "78"}]))
    variant(lambda p: t0(p).update(referenced_tweets={"type": "quoted"}))
    variant(lambda p: t0(p).update(attachments={"poll_ids": "123"}))
    variant(lambda p: t0(p).update(attachments={"poll_ids": [123, "124"]}))
    variant(lambda p: t0(p).update(attachments=[1]))
    variant(lambda p: t0(p).update(edit_history_tweet_ids=[int(t0(p)["id"]), 5]))
    variant(lambda p: t0(p).update(edit_history_tweet_ids=["1", 'a"b']))
    variant(lambda p: t0(p).update(edit_history_tweet_ids=[]))
    variant(lambda p: t0(p).update(edit_history_tweet_ids=["5", "6"]))    # id not in it
    variant(lambda p: t0(p).update(entities={"z": [1.5, 1e-7, "é\n\"", None], "a": {}}))
    variant(lambda p: t0(p).update(entities=False, withheld={"country_codes": ["DE"]}))
    # where DuckDB's JSON text and json.dumps' differ: exponents, tiny and huge floats,
    # escaped characters; and what looks like them inside strings
    variant(lambda p: t0(p).update(entities={"b": [1e300, -1.25e-7, 1e-05, 0.0001, 1e16,
                                                   1234567890123456.0, 12345678901234567890,
                                                   -0.0, 0.4677, 5e-324, True, None]}))
    variant(lambda p: t0(p).update(entities={"s": ["\x01\x1f\x7f", "\u2028", "a/b", "t.co/8e3",
                                                   ":1e5", "0.00001"], "a": {"z": {}, "y": []}}))
    variant(lambda p: t0(p).update(withheld={"country_codes": ["DE"], "copyright": True,
                                             "scope": "tweet", "x": 1.5e-9}))
    variant(lambda p: t0(p).update(entities={"n": [18446744073709551621, 10 ** 20,
                                                   -9223372036854775809, 2 ** 63 - 1]}))
    variant(lambda p: t0(p).update(possibly_sensitive="true"))
    variant(lambda p: t0(p).update(public_metrics=[1]))
    variant(lambda p: p.update(errors={"title": "Not Found Error", "resource_type": "tweet",
                                       "resource_id": "5"}))
    variant(lambda p: p.update(errors=["plain", {"title": "Forbidden", "resource_id": "6",
                                                 "resource_type": "tweet"}]))
    variant(lambda p: p["includes"].update(users=p["includes"]["users"][0]))
    variant(lambda p: p.update(includes=[1, 2]))
    variant(lambda p: p["data"].append(None))
    variant(lambda p: p["data"].append("junk"))
    variant(lambda p: p["data"].append({"text": "no id"}))
    variant(lambda p: p["includes"]["users"][0].update(username=""))
    variant(lambda p: p["includes"]["users"][0].update(username=7))
    variant(lambda p: p["includes"]["users"].append(dict(p["includes"]["users"][0],
                                                         username="renamed")))
    variant(lambda p: p["includes"]["users"][0].update(public_metrics={"tweet_count": "9"}))
    variant(lambda p: p["includes"]["polls"][0].pop("id"))
    variant(lambda p: p["includes"]["polls"][0].update(voting_status="closed"))
    variant(lambda p: p.update(__twarc={"retrieved_at": "yesterday"}))
    variant(lambda p: p.update(__twarc={"retrieved_at": "2021-09-22 16:38:09"}))
    variant(lambda p: p.update(__twarc={"retrieved_at": 5}))
    variant(lambda p: p.update(__twarc="x"))
    variant(lambda p: p.update(data=t0(p)))                             # a stream line
    variant(lambda p: p.update(data="x"))
    variant(lambda p: p.pop("data"))
    # entities nested deeper than Python's JSON reader goes: the per-page path's bad line
    deep = copy.deepcopy(base)
    deep["data"][0]["entities"] = {"deep": "DEEP"}
    deep.pop("__twarc", None)          # (as the API sent it: test_bulk reads it as a page)
    lines.append(json.dumps(deep).replace('"DEEP"', "[" * 1100 + "]" * 1100))
    lines.append(json.dumps([base["data"][0]]))                         # not an object
    lines.append(json.dumps(dict(base["data"][1], author={"id": base["data"][1]["author_id"],
                                                          "username": "flat"})))
    lines.append("")
    lines.append('{"data": [{"id": "1", "text": "trunc')
    lines.append(json.dumps({"meta": {"result_count": 0}}))
    # users lookup pages: results are users
    lines.append(json.dumps({"data": base["includes"]["users"][:3]}))
    lines.append(json.dumps({"data": [dict(base["includes"]["users"][0], text=None)]}))
    return lines


def test_odd_lines_same_rows(tmp_path, monkeypatch):
    corpus = corpus_dir("x-api-v2")
    src = tmp_path / "odd.jsonl"
    data = ("\n".join(odd_lines(corpus)) + "\n   \n\t\r\n").encode("utf-8")
    # a byte that is not UTF-8, inside a text: both paths read it as U+FFFD
    data += data.split(b"\n")[0].replace(b'"text": "', b'"text": "\xff', 1) + b"\n"
    src.write_bytes(data)
    # a lone surrogate escape: the X normalizer stores U+FFFD; DuckDB refuses the chunk, which
    # then goes through Python whole
    lone = tmp_path / "lone.jsonl"
    lone.write_bytes(data.split(b"\n")[0].replace(b'"text": "', b'"text": "\\ud83d', 1)
                     + b"\n")
    (fast, fres), (slow, sres) = both_ways(tmp_path, monkeypatch, src)
    assert fast == slow
    assert fres.details["stats"].bad == sres.details["stats"].bad
    assert fres.details["stats"].items == sres.details["stats"].items
    assert len(fres.details["stats"].bad) == 9            # the deep line among them
    (fast, fres), (slow, sres) = both_ways(tmp_path / "lone", monkeypatch, lone)
    assert fast == slow
    assert any("\ufffd" in (r[4] or "") for r in fast["posts"])


def test_every_chunk_is_batched_unless_turned_off(monkeypatch):
    monkeypatch.delenv("TRACKER_IMPORT_FAST", raising=False)
    assert import_normalize.fast_enabled()
    monkeypatch.setenv("TRACKER_IMPORT_FAST", "0")
    assert not import_normalize.fast_enabled()
    monkeypatch.setenv("TRACKER_IMPORT_FAST", "always")
    assert import_normalize.fast_enabled()


@pytest.mark.parametrize("name", ["brexit.jsonl", "users.jsonl", "withheld.jsonl"])
def test_per_file_same_rows(tmp_path, monkeypatch, name):
    corpus = corpus_dir("x-api-v2")
    (fast, _), (slow, _) = both_ways(tmp_path, monkeypatch, corpus / name)
    assert fast == slow
    assert query(config(tmp_path / "always"), "SELECT count(*) FROM posts")[0][0] > 0


def test_a_line_nested_too_deep_and_impossible_times_cost_nothing_else(tmp_path, monkeypatch):
    """One line nested 100,000 deep is a bad line (file:line), not an aborted file; a time in
    year 0 or 9999 is stored as NULL by both paths, so CSV output reads every row."""
    def tweet(i, at):
        return {"id": str(i), "text": f"t{i}", "author_id": "7", "created_at": at,
                "conversation_id": str(i), "edit_history_tweet_ids": [str(i)]}

    src = tmp_path / "hostile.jsonl"
    src.write_text("\n".join([
        json.dumps({"data": [tweet(1, "2022-10-10T10:00:00.000Z")],
                    "includes": {"users": [{"id": "7", "username": "al", "name": "Al",
                                            "created_at": "0000-01-01T00:00:00.000Z"}]}}),
        json.dumps({"data": [tweet(2, "0000-01-01T00:00:00.000Z"),
                             tweet(4, "0001-01-01T00:00:00.000Z"),
                             tweet(5, "9999-12-31T23:59:59.000Z")]}),
        '{"data": ' + "[" * 100_000 + "]" * 100_000 + "}",
        json.dumps({"data": [tweet(3, "2022-10-10T11:00:00.000Z")]})]) + "\n")
    (fast, fres), (slow, sres) = both_ways(tmp_path, monkeypatch, src)
    assert fast == slow
    for res in (fres, sres):
        (bad,) = res.details["stats"].bad
        assert bad.startswith(f"{src}:3: ") and "nested too deeply" in bad
    assert sorted((r[1], r[3]) for r in fast["posts"]) == [
        ("1", datetime(2022, 10, 10, 10, 0, tzinfo=timezone.utc)), ("2", None), ("3",
         datetime(2022, 10, 10, 11, 0, tzinfo=timezone.utc)), ("4", None), ("5", None)]
    assert [r[5] for r in fast["accounts"]] == [None]
    cfg = config(tmp_path / "always")
    from tracker.store.query import export, run_query

    text = export(run_query(cfg, "SELECT post_id, created_at FROM posts ORDER BY 1"), "csv",
                  None)
    assert text.splitlines()[1:] == ["1,2022-10-10T10:00:00.000000+00:00", "2,",
                                     "3,2022-10-10T11:00:00.000000+00:00", "4,", "5,"]
